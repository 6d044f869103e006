using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Models.Transformer;

/// <summary>
/// A T5-style encoder-decoder built from the same modules as <see cref="TransformerModel"/> by a
/// <see cref="TransformerConfig"/> with <see cref="TransformerConfig.IsEncoderDecoder"/>: a token embedding shared by
/// both stacks; an encoder stack of pre-norm blocks with bidirectional self-attention; a decoder stack whose blocks add
/// cross-attention to the encoder's output between causal self-attention and the MLP; each stack with its own relative
/// position bias table (shared by its layers) and final RMSNorm; and the head, tied to the embedding (the decoder's
/// output scaled by 1/√C first, as T5 1.0) or a matrix of its own (T5 1.1). Trained on cross-entropy of the targets
/// given the inputs (teacher forcing: the decoder reads the targets shifted right behind
/// <see cref="TransformerConfig.DecoderStartToken"/>). Parameters and gradients are each one buffer, decayed matrices
/// first, every tensor the backend's; activations are planned once per (batch, input length, target length).
/// </summary>
/// <example>
/// <code>
/// using var model = new EncoderDecoderModel(TransformerConfig.T5(vocabSize: 4096, contextLength: 512, layerCount: 4, decoderLayerCount: 4,
///     headCount: 4, width: 128, intermediateSize: 512));
/// model.InitializeWeights(seed: 1337);
/// float loss = model.Forward(inputs, targets, batchSize, inputLength);  // targets: batchSize × target length, −1 = ignore
/// model.Backward();
/// </code>
/// </example>
public sealed class EncoderDecoderModel : IDisposable
{
    private readonly IReadOnlyList<ModelParameter> _layout;
    private readonly ParameterViews _views;
    private readonly Embedding _embedding;
    private readonly Tensor? _gradients;
    private readonly float _headScale;
    private EncoderDecoderActivations? _acts;
    private int _lossTokenCount;
    private bool _logitsReadyForBackward;
    private bool _logitsHoldGradient;

    /// <summary>One stack: its relative position bias, its blocks and its final norm.</summary>
    internal sealed record Stack(RelativePositionBias Bias, TransformerBlock[] Blocks, Norm FinalNorm);

    /// <param name="trainable">False loads weights for inference: no gradient buffer; training methods then throw.</param>
    public EncoderDecoderModel(TransformerConfig config, IBackend? backend = null, bool trainable = true)
    {
        config.Validate();
        if (!config.IsEncoderDecoder)
            throw new ArgumentException($"a {config.Family} config has one stack: build it as a TransformerModel", nameof(config));
        if (config.Positions != PositionKind.Relative || !config.PreNorm || config.HeadTransform || config.HeadBias || config.TokenTypeCount > 0 || config.EmbeddingNorm)
            throw new ArgumentException("an encoder-decoder has relative positions, pre-norm blocks and a plain head (no token types, embedding norm or head transform)", nameof(config));
        Config = config;
        Backend = backend ?? CpuBackend.Shared;
        var layout = new ParameterLayoutBuilder();
        (_embedding, Encoder, Decoder, string head) = DeclareModules(config, layout);
        _layout = layout.Build();
        ParameterCount = _layout.Sum(p => p.Length);
        if (ParameterCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(config), $"{ParameterCount:N0} parameters exceed the CPU backend's single-buffer limit of {int.MaxValue:N0}");
        DecayedParameterCount = _layout.Where(p => p.WeightDecay).Sum(p => p.Length);
        Parameters = Backend.Allocate(new TensorShape((int)ParameterCount));
        _gradients = trainable ? Backend.Allocate(new TensorShape((int)ParameterCount)) : null;
        _views = new ParameterViews(_layout, Parameters, _gradients);
        _embedding.Bind(_views);
        foreach (var stack in (Stack[])[Encoder, Decoder])
        {
            stack.Bias.Bind(_views);
            foreach (var block in stack.Blocks) block.Bind(_views);
            stack.FinalNorm.Bind(_views);
        }
        HeadWeight = _views.Value(head);
        HeadWeightGrad = _views.Gradient(head);
        _headScale = config.TiedEmbeddings ? 1f / MathF.Sqrt(config.Width) : 1f;
    }

    public TransformerConfig Config { get; }

    public IBackend Backend { get; }

    /// <summary>Every parameter in buffer order: name, shape, offset, weight decay, initialization.</summary>
    public IReadOnlyList<ModelParameter> ParameterLayout => _layout;

    public long ParameterCount { get; }

    /// <summary>The decayed parameters are exactly elements [0, DecayedParameterCount) of the buffer.</summary>
    public long DecayedParameterCount { get; }

    public Tensor Parameters { get; }

    public Tensor Gradients => _gradients ?? throw NotTrainable();

    public bool IsTrainable => _gradients is not null;

    /// <summary>(B,Td,Vp) logits of the last forward. The backward overwrites them with their gradient.</summary>
    public Tensor Logits => _acts?.Logits ?? throw new InvalidOperationException("no forward pass has run yet");

    internal Stack Encoder { get; }
    internal Stack Decoder { get; }
    internal Embedding Embedding => _embedding;
    internal Tensor HeadWeight { get; }       // (Vp, C): the shared embedding when tied
    private Tensor? HeadWeightGrad { get; }

    /// <summary>1/√C for a tied head (T5 1.0 scales the decoder's output before the shared embedding), else 1.</summary>
    internal float HeadScale => _headScale;

    /// <summary>The parameter layout a config implies, without allocating anything.</summary>
    public static IReadOnlyList<ModelParameter> DescribeLayout(TransformerConfig config)
    {
        config.Validate();
        var layout = new ParameterLayoutBuilder();
        DeclareModules(config, layout);
        return layout.Build();
    }

    private static (Embedding, Stack, Stack, string Head) DeclareModules(TransformerConfig config, ParameterLayoutBuilder layout)
    {
        var encoderNames = TransformerNames.T5Stack(decoder: false);
        var embedding = new Embedding(layout, encoderNames.TokenEmbedding, config.PaddedVocabSize, config.VocabSize, config.Width);
        Stack Declare(TransformerNames names, int layers, bool decoder)
        {
            var bias = new RelativePositionBias(layout, names.RelativeBias, config.RelativeAttentionBuckets, config.HeadCount,
                config.RelativeAttentionMaxDistance, bidirectional: !decoder);
            var blocks = new TransformerBlock[layers];
            for (int i = 0; i < layers; i++) blocks[i] = new TransformerBlock(layout, config, names, i, causal: decoder, crossAttention: decoder);
            return new Stack(bias, blocks, new Norm(layout, names.FinalNorm, config.Width, config.Norm, config.NormEpsilon, config.NormBias));
        }
        var encoder = Declare(encoderNames, config.LayerCount, decoder: false);
        var decoderNames = TransformerNames.T5Stack(decoder: true);
        var decoderStack = Declare(decoderNames, config.DecoderLayerCount, decoder: true);
        string head = config.TiedEmbeddings ? encoderNames.TokenEmbedding + ".weight" : decoderNames.Head + ".weight";
        if (!config.TiedEmbeddings) layout.DeclarePadded(head, decay: true, ParameterInit.Normal, config.VocabSize, config.PaddedVocabSize, config.Width);
        return (embedding, encoder, decoderStack, head);
    }

    public Tensor GetParameter(string name) => _views.Value(name);

    public Tensor GetGradient(string name) => _views.Gradient(name) ?? throw NotTrainable();

    public ModelParameter GetParameterInfo(string name) => _views.Info(name);

    public bool HasParameter(string name) => _views.Contains(name);

    public AdamWOptimizer CreateOptimizer(AdamWSettings settings) =>
        IsTrainable ? new(Backend, ParameterCount, DecayedParameterCount, settings) : throw NotTrainable();

    /// <summary>GPT-2's initialization (see <see cref="TransformerModel.InitializeWeights"/>), with the residual scaling over the encoder's layers.</summary>
    public void InitializeWeights(int seed) => ParameterInitializer.Initialize(Backend, _layout, GetParameter, Config.LayerCount, seed);

    /// <summary>
    /// Copies the last forward-with-targets' per-position cross-entropy (B·Td; 0 where the target is −1) to
    /// <paramref name="losses"/>: call after that forward and before its backward. Multiple-choice scoring sums it per choice.
    /// </summary>
    public void CopyTokenLosses(Span<float> losses) => ForwardReadout.CopyLosses(Backend, _acts?.Losses, _logitsReadyForBackward, losses);

    /// <summary>
    /// Writes each target position's most likely token (the argmax of the last forward's logits over the real
    /// vocabulary) to <paramref name="tokens"/> (B·Td): call after a forward and before its backward, which overwrites the logits.
    /// </summary>
    public void PredictTokens(Span<int> tokens) =>
        ForwardReadout.PredictTokens(Backend, _acts?.Predictions, _acts?.Logits, _logitsHoldGradient, Config.VocabSize, tokens);

    public void ZeroGradients() => Backend.Clear(Gradients);

    public float GradientNorm() => (float)Math.Sqrt(Backend.SumOfSquares(Gradients));

    /// <summary>
    /// Runs inputs (B·Te, row-major) through the encoder and the targets (B·Td; −1 = ignore, the target length is
    /// targets.Length / B) through the decoder with teacher forcing, and returns the mean cross-entropy over the targets
    /// that are not −1. Keeps what <see cref="Backward"/> needs and fills <see cref="Logits"/>.
    /// </summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int inputLength)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be >= 1, got {batchSize}");
        if (inputLength < 1 || inputLength > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(inputLength), $"input length {inputLength} is outside [1, {Config.ContextLength}] (the model's context length)");
        if (inputs.Length != (long)batchSize * inputLength)
            throw new ArgumentException($"got {inputs.Length} input tokens, expected batch size {batchSize} × input length {inputLength} = {batchSize * inputLength}", nameof(inputs));
        if (targets.Length == 0 || targets.Length % batchSize != 0 || targets.Length / batchSize > Config.ContextLength)
            throw new ArgumentException($"got {targets.Length} targets, expected batch size {batchSize} × a target length in [1, {Config.ContextLength}]", nameof(targets));
        CheckIds(inputs, nameof(inputs), allowIgnore: false);
        CheckIds(targets, nameof(targets), allowIgnore: true);
        int targetLength = targets.Length / batchSize;
        if (_acts is null || _acts.BatchSize != batchSize || _acts.InputLength != inputLength || _acts.TargetLength != targetLength)
        {
            _acts?.Dispose();
            _acts = null;
            _logitsReadyForBackward = false;
            _acts = new EncoderDecoderActivations(this, batchSize, inputLength, targetLength);
        }
        var a = _acts;
        ShiftRight(targets, a.HostDecoderInputs, targetLength, Config.DecoderStartToken);
        Backend.CopyFromHost(a.Inputs, inputs);
        Backend.CopyFromHost(a.DecoderInputs, a.HostDecoderInputs);
        Backend.CopyFromHost(a.Targets, targets);

        RunStack(Encoder, a.Encoder, a.Inputs);
        RunStack(Decoder, a.Decoder, a.DecoderInputs);
        if (_headScale != 1f) Backend.Scale(a.HeadInput, a.Decoder.Output, _headScale);
        Backend.LinearForward(a.Logits, a.HeadInput, HeadWeight, null);
        Backend.CrossEntropyForward(a.Losses, a.Logits, a.Targets, Config.VocabSize);
        int count = 0;
        foreach (int target in targets) count += target >= 0 ? 1 : 0;
        double sum = Backend.Sum(a.Losses);
        _lossTokenCount = count;
        _logitsReadyForBackward = true;
        _logitsHoldGradient = false;
        return count == 0 ? 0f : (float)(sum / count);
    }

    /// <summary>The decoder's inputs for teacher forcing: each row's targets shifted right behind the start token, an ignored (−1) target read as the start token (T5's padding).</summary>
    public static void ShiftRight(ReadOnlySpan<int> targets, Span<int> decoderInputs, int targetLength, int startToken)
    {
        for (int i = 0; i < targets.Length; i++)
        {
            int previous = i % targetLength == 0 ? startToken : targets[i - 1];
            decoderInputs[i] = previous < 0 ? startToken : previous;
        }
    }

    // embedding → the stack's relative bias → its blocks → its final norm (into s.Output)
    internal void RunStack(Stack stack, StackActivations s, Tensor ids)
    {
        _embedding.Forward(Backend, s.Residuals[0], ids, accumulate: false);
        stack.Bias.Forward(Backend, s.Bias);
        for (int l = 0; l < stack.Blocks.Length; l++) stack.Blocks[l].Forward(Backend, s.Residuals[l + 1], s.Residuals[l], s.Blocks[l], s.Context, s.Scratch);
        stack.FinalNorm.Forward(Backend, s.Output, s.OutputStatistics, s.Residuals[^1]);
    }

    /// <summary>Accumulates into <see cref="Gradients"/> the gradient of lossScale × the mean loss of the last Forward.</summary>
    public void Backward(float lossScale = 1f)
    {
        if (!IsTrainable) throw NotTrainable();
        if (!_logitsReadyForBackward || _acts is null)
            throw new InvalidOperationException("Backward needs a Forward with targets first (and runs once per forward)");
        _logitsReadyForBackward = false;
        _logitsHoldGradient = true;
        var a = _acts;
        var d = a.Decoder.Scratch;
        float dlossScale = _lossTokenCount == 0 ? 0f : lossScale / _lossTokenCount;
        Backend.CrossEntropyBackward(a.Logits, a.Logits, a.Losses, a.Targets, Config.VocabSize, dlossScale);
        Backend.LinearBackward(d.NormGrad, HeadWeightGrad!, null, a.Logits, a.HeadInput, HeadWeight);
        if (_headScale != 1f) Backend.Scale(d.NormGrad, d.NormGrad, _headScale);

        var cross = a.Decoder.Context.Cross!;
        Backend.Clear(cross.MemoryGrad!);
        BackwardStack(Decoder, a.Decoder, a.DecoderInputs, d.NormGrad);
        BackwardStack(Encoder, a.Encoder, a.Inputs, cross.MemoryGrad!);
    }

    // from the gradient of the stack's output (its final norm's) down to the embedding table
    private void BackwardStack(Stack stack, StackActivations s, Tensor ids, Tensor outputGrad)
    {
        var scratch = s.Scratch;
        Backend.Clear(scratch.ResidualGrad);
        stack.FinalNorm.Backward(Backend, scratch.ResidualGrad, outputGrad, s.Residuals[^1], s.OutputStatistics);
        Backend.Clear(s.Bias.BiasGrad);
        for (int l = stack.Blocks.Length - 1; l >= 0; l--) stack.Blocks[l].Backward(Backend, s.Residuals[l], s.Blocks[l], s.Context, scratch);
        stack.Bias.Backward(Backend, s.Bias);
        _embedding.Backward(Backend, scratch.ResidualGrad, ids);
    }

    /// <summary>
    /// One full training step, as <see cref="TransformerModel.TrainStep"/>: zero gradients, forward, backward, clip to
    /// maxGradNorm (0 or less: no clipping), AdamW. Throws <see cref="NonFiniteLossException"/> (parameters untouched)
    /// on a NaN or infinite loss or gradient norm.
    /// </summary>
    public TrainStepResult TrainStep(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int inputLength,
        AdamWOptimizer optimizer, float learningRate, float maxGradNorm)
    {
        int step = optimizer.StepCount + 1;
        ZeroGradients();
        float loss = Forward(inputs, targets, batchSize, inputLength);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException(step, "loss", loss);
        Backward();
        float norm = GradientNorm();
        if (!float.IsFinite(norm)) throw new NonFiniteLossException(step, "gradient norm", norm);
        float clipScale = maxGradNorm > 0 ? Math.Min(1f, maxGradNorm / (norm + 1e-6f)) : 1f;
        optimizer.Step(Parameters, Gradients, learningRate, clipScale);
        return new TrainStepResult(optimizer.StepCount, loss, norm, clipScale);
    }

    /// <summary>
    /// A decoding state for <paramref name="batchSize"/> inputs of up to <paramref name="inputLength"/> tokens and up to
    /// <paramref name="maxTargetLength"/> decoded tokens: the encoder runs once per input, the cross-attention's keys and
    /// values are projected once, and the decoder keeps a KV cache.
    /// </summary>
    public EncoderDecoderCache CreateCache(int batchSize, int inputLength, int maxTargetLength) => new(this, batchSize, inputLength, maxTargetLength);

    internal void CheckIds(ReadOnlySpan<int> ids, string name, bool allowIgnore) => TokenIds.Check(ids, name, Config.VocabSize, allowIgnore);

    private static InvalidOperationException NotTrainable() =>
        new("this model was loaded for inference: it has no gradients (load it with trainable: true to train it)");

    public void Dispose()
    {
        _acts?.Dispose();
        Parameters.Dispose();
        _gradients?.Dispose();
    }
}
