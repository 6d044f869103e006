using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Models.Transformer;

/// <summary>
/// A transformer language model built from modules by a <see cref="TransformerConfig"/>: token embedding (plus a
/// learned position table, or rotary positions inside attention), residual blocks of self-attention and MLP (pre- or
/// post-norm), a final norm and an output head (tied to the token embedding or a matrix of its own), trained on
/// cross-entropy (next-token, or masked-LM where targets are −1 except at the masked positions). GPT-2, a Llama-style
/// decoder and a BERT-style encoder (with token-type embeddings, an embedding norm and the masked-LM head's transform
/// and bias) are configurations of this one class.
/// All parameters live in one buffer (<see cref="Parameters"/>), all gradients in another (<see cref="Gradients"/>),
/// laid out by <see cref="ParameterLayout"/> with the weight-decayed matrices first. Every tensor is the backend's
/// (allocated by it, reached only through its operations and its host copies), so the model runs unchanged on a
/// backend whose memory the host cannot address. Every module has a hand-written
/// backward; activations are planned once per (batch, sequence length), so a training step allocates nothing.
/// A row may pack several documents (supervised fine-tuning packs conversations): given each token's document start,
/// positions restart at every document and attention never crosses one, so each document trains as if alone.
/// </summary>
/// <example>
/// <code>
/// using var model = new TransformerModel(TransformerConfig.Llama(vocabSize: 4096, contextLength: 256, layerCount: 4, headCount: 4, keyValueHeadCount: 2, width: 128));
/// model.InitializeWeights(seed: 1337);
/// using var optimizer = model.CreateOptimizer(new AdamWSettings(WeightDecay: 0.1f));
/// TrainStepResult r = model.TrainStep(tokens, targets, batchSize, seqLen, optimizer, learningRate: 1e-3f, maxGradNorm: 1f);
/// </code>
/// </example>
public sealed class TransformerModel : IDisposable
{
    private readonly IReadOnlyList<ModelParameter> _layout;
    private readonly ParameterViews _views;
    private readonly Embedding _tokenEmbedding;
    private readonly Embedding? _positionEmbedding;
    private readonly Embedding? _tokenTypeEmbedding;
    private readonly Norm? _embeddingNorm;
    private readonly TransformerBlock[] _blocks;
    private readonly Norm? _finalNorm;
    private readonly HeadTransform? _headTransform;
    private readonly Tensor? _gradients;
    private TransformerActivations? _acts;
    private int _lossTokenCount;
    private bool _logitsReadyForBackward;
    private bool _logitsHoldGradient;

    /// <param name="trainable">False loads weights for inference: no gradient buffer (nor optimizer or training activations), so
    /// a model takes a third of the memory; training methods then throw.</param>
    public TransformerModel(TransformerConfig config, IBackend? backend = null, bool trainable = true)
    {
        config.Validate();
        if (config.IsEncoderDecoder)
            throw new ArgumentException($"a {config.Family} config is an encoder-decoder: build it as an EncoderDecoderModel", nameof(config));
        Config = config;
        Backend = backend ?? CpuBackend.Shared;
        var layout = new ParameterLayoutBuilder();
        var modules = DeclareModules(config, layout);
        (_tokenEmbedding, _positionEmbedding, _tokenTypeEmbedding, _embeddingNorm, _blocks, _finalNorm, _headTransform) =
            (modules.Token, modules.Position, modules.TokenType, modules.EmbeddingNorm, modules.Blocks, modules.FinalNorm, modules.HeadTransform);
        _layout = layout.Build();

        ParameterCount = _layout.Sum(p => p.Length);
        if (ParameterCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(config),
                $"{ParameterCount:N0} parameters exceed the CPU backend's single-buffer limit of {int.MaxValue:N0} (TransformerModel.DescribeLayout describes larger models)");
        DecayedParameterCount = _layout.Where(p => p.WeightDecay).Sum(p => p.Length);
        Parameters = Backend.Allocate(new TensorShape((int)ParameterCount));
        _gradients = trainable ? Backend.Allocate(new TensorShape((int)ParameterCount)) : null;
        _views = new ParameterViews(_layout, Parameters, _gradients);
        _tokenEmbedding.Bind(_views);
        _positionEmbedding?.Bind(_views);
        _tokenTypeEmbedding?.Bind(_views);
        _embeddingNorm?.Bind(_views);
        foreach (var block in _blocks) block.Bind(_views);
        _finalNorm?.Bind(_views);
        _headTransform?.Bind(_views);
        HeadWeight = _views.Value(modules.HeadName);
        HeadWeightGrad = _views.Gradient(modules.HeadName);
        if (modules.HeadBiasName is string headBias)
        {
            HeadBias = _views.Value(headBias);
            HeadBiasGrad = _views.Gradient(headBias);
        }
    }

    public TransformerConfig Config { get; }

    public IBackend Backend { get; }

    /// <summary>Every parameter in buffer order: name, shape, offset into <see cref="Parameters"/>, weight decay, initialization.</summary>
    public IReadOnlyList<ModelParameter> ParameterLayout => _layout;

    public long ParameterCount { get; }

    /// <summary>The decayed parameters are exactly elements [0, DecayedParameterCount) of the buffer.</summary>
    public long DecayedParameterCount { get; }

    /// <summary>All parameters, flat (P).</summary>
    public Tensor Parameters { get; }

    /// <summary>All gradients, flat (P), same layout as <see cref="Parameters"/>; a model loaded for inference has none.</summary>
    public Tensor Gradients => _gradients ?? throw NotTrainable();

    /// <summary>Whether the model has gradients (false when loaded for inference).</summary>
    public bool IsTrainable => _gradients is not null;

    /// <summary>(B,T,Vp) logits of the last forward (padded columns are 0 while the padded rows of the head are 0). The backward overwrites them with their gradient.</summary>
    public Tensor Logits => _acts?.Logits ?? throw new InvalidOperationException("no forward pass has run yet");

    private Tensor HeadWeight { get; }      // (Vp, C): the token embedding when tied
    private Tensor? HeadWeightGrad { get; }
    private Tensor? HeadBias { get; }       // (Vp), BERT's decoder bias; padded entries stay 0
    private Tensor? HeadBiasGrad { get; }

    /// <summary>The parameter layout a config implies, without allocating anything (offsets are 64-bit, so models above 2^31 parameters can be described).</summary>
    public static IReadOnlyList<ModelParameter> DescribeLayout(TransformerConfig config)
    {
        config.Validate();
        var layout = new ParameterLayoutBuilder();
        DeclareModules(config, layout);
        return layout.Build();
    }

    private sealed record ModuleSet(Embedding Token, Embedding? Position, Embedding? TokenType, Norm? EmbeddingNorm, TransformerBlock[] Blocks,
        Norm? FinalNorm, HeadTransform? HeadTransform, string HeadName, string? HeadBiasName);

    // The modules in forward order, each declaring its parameters; the builder then puts the decayed ones first.
    private static ModuleSet DeclareModules(TransformerConfig config, ParameterLayoutBuilder layout)
    {
        var names = TransformerNames.For(config.Family);
        var token = new Embedding(layout, names.TokenEmbedding, config.PaddedVocabSize, config.VocabSize, config.Width);
        var position = config.Positions == PositionKind.Learned
            ? new Embedding(layout, names.PositionEmbedding, config.ContextLength, config.ContextLength, config.Width)
            : null;
        var tokenType = config.TokenTypeCount > 0
            ? new Embedding(layout, names.TokenTypeEmbedding, config.TokenTypeCount, config.TokenTypeCount, config.Width)
            : null;
        var embeddingNorm = config.EmbeddingNorm
            ? new Norm(layout, names.EmbeddingNorm, config.Width, config.Norm, config.NormEpsilon, config.NormBias)
            : null;
        var blocks = new TransformerBlock[config.LayerCount];
        for (int i = 0; i < blocks.Length; i++) blocks[i] = new TransformerBlock(layout, config, names, i, config.Causal);
        var finalNorm = config.PreNorm ? new Norm(layout, names.FinalNorm, config.Width, config.Norm, config.NormEpsilon, config.NormBias) : null;
        var headTransform = config.HeadTransform ? new HeadTransform(layout, config, names.HeadTransform, names.HeadTransformNorm) : null;
        string head = config.TiedEmbeddings ? names.TokenEmbedding + ".weight" : names.Head + ".weight";
        if (!config.TiedEmbeddings) layout.DeclarePadded(head, decay: true, ParameterInit.Normal, config.VocabSize, config.PaddedVocabSize, config.Width);
        string? headBias = config.HeadBias ? (names.HeadBias.Length > 0 ? names.HeadBias : names.Head + ".bias") : null;
        if (headBias is not null) layout.DeclarePadded(headBias, decay: false, ParameterInit.Zeros, config.VocabSize, config.PaddedVocabSize);
        return new(token, position, tokenType, embeddingNorm, blocks, finalNorm, headTransform, head, headBias);
    }

    /// <summary>A view of one named parameter inside <see cref="Parameters"/>.</summary>
    public Tensor GetParameter(string name) => _views.Value(name);

    /// <summary>A view of one named gradient inside <see cref="Gradients"/>.</summary>
    public Tensor GetGradient(string name) => _views.Gradient(name) ?? throw NotTrainable();

    public ModelParameter GetParameterInfo(string name) => _views.Info(name);

    public bool HasParameter(string name) => _views.Contains(name);

    /// <summary>An AdamW optimizer whose weight decay covers exactly this model's matrices.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings) =>
        IsTrainable ? new(Backend, ParameterCount, DecayedParameterCount, settings) : throw NotTrainable();

    /// <summary>
    /// GPT-2's initialization for every family: matrices ~ N(0, 0.02), the projections into the residual stream
    /// ~ N(0, 0.02/√(2·layers)), biases 0, norm gains 1, padded vocabulary rows 0. Deterministic for a seed.
    /// </summary>
    public void InitializeWeights(int seed) => ParameterInitializer.Initialize(Backend, _layout, GetParameter, Config.LayerCount, seed);

    /// <summary>
    /// This model with a larger vocabulary, for tokens added to its tokenizer (such as the chat markers): a new model on
    /// the same backend with every parameter copied, the rows of the token embedding (and of an untied head) for the new
    /// ids set to the mean of the existing rows. Every existing token keeps its embedding and its logit, and a new one
    /// starts as an average token rather than noise (fine-tuning then teaches it its use).
    /// </summary>
    public TransformerModel WithVocabulary(int vocabularySize)
    {
        if (vocabularySize < Config.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), $"vocabulary {vocabularySize} is smaller than the model's {Config.VocabSize}; tokens can only be added");
        var grown = new TransformerModel(Config with { VocabSize = vocabularySize }, Backend, IsTrainable);
        try
        {
            float[] source = Backend.ToHost(Parameters);
            float[] target = new float[grown.ParameterCount];
            foreach (var parameter in grown._layout)
            {
                var old = _views.Info(parameter.Name);
                var to = target.AsSpan((int)parameter.Offset, (int)parameter.Length);
                var from = source.AsSpan((int)old.Offset, (int)old.Length);
                if (old.Shape == parameter.Shape && old.RealRows == parameter.RealRows)
                {
                    from.CopyTo(to);
                    continue;
                }
                // a vocabulary-sized matrix: old rows as they were, new real rows their mean, padding rows zero
                int width = (int)(parameter.Length / parameter.Shape[0]);
                from[..(old.RealRows * width)].CopyTo(to);
                var mean = new double[width];
                for (int row = 0; row < old.RealRows; row++)
                {
                    for (int c = 0; c < width; c++) mean[c] += from[(row * width) + c];
                }
                for (int row = old.RealRows; row < parameter.RealRows; row++)
                {
                    for (int c = 0; c < width; c++) to[(row * width) + c] = (float)(mean[c] / old.RealRows);
                }
            }
            Backend.CopyFromHost(grown.Parameters, target);
            return grown;
        }
        catch
        {
            grown.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model on tokens (B·T, row-major) and fills <see cref="Logits"/>.
    /// <paramref name="documentStarts"/> (B·T) packs several documents into a row: for each token, the index in its row
    /// where its document starts (0 at a row's first token; then either the previous token's start or the token's own
    /// index, where a new document begins). Positions then restart at each document (t − start, for learned and rotary
    /// positions alike) and a token attends only to its own document's tokens. Empty (the default): one sequence per row.
    /// <paramref name="tokenTypes"/> (B·T), for a model with a token-type table (BERT): each token's segment, such as 0
    /// for a first sentence and 1 for a second; empty: all 0.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default,
        ReadOnlySpan<int> tokenTypes = default)
    {
        var acts = Prepare(tokens, batchSize, sequenceLength);
        CheckDocumentStarts(documentStarts, tokens.Length, sequenceLength);
        CheckTokenTypes(tokenTypes, tokens.Length);
        Backend.CopyFromHost(acts.Tokens, tokens);
        acts.UseDocuments(documentStarts);
        acts.UseTokenTypes(tokenTypes);
        RunForward(acts);
        _logitsReadyForBackward = false;
        _logitsHoldGradient = false;
    }

    /// <summary>
    /// Runs the model and returns the mean cross-entropy of predicting targets (B·T; −1 = ignore this position), over
    /// every document of every row when <paramref name="documentStarts"/> packs several into a row, with the token types
    /// of a BERT's segments (see <see cref="Forward(ReadOnlySpan{int}, int, int, ReadOnlySpan{int}, ReadOnlySpan{int})"/>).
    /// Keeps what <see cref="Backward"/> needs.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batchSize, int sequenceLength,
        ReadOnlySpan<int> documentStarts = default, ReadOnlySpan<int> tokenTypes = default)
    {
        var acts = Prepare(tokens, batchSize, sequenceLength);
        if (targets.Length != tokens.Length)
            throw new ArgumentException($"got {targets.Length} targets for {tokens.Length} tokens; expected one target per token", nameof(targets));
        CheckIds(targets, nameof(targets), allowIgnore: true);
        CheckDocumentStarts(documentStarts, tokens.Length, sequenceLength);
        CheckTokenTypes(tokenTypes, tokens.Length);
        Backend.CopyFromHost(acts.Tokens, tokens);
        Backend.CopyFromHost(acts.Targets, targets);
        acts.UseDocuments(documentStarts);
        acts.UseTokenTypes(tokenTypes);
        RunForward(acts);
        Backend.CrossEntropyForward(acts.Losses, acts.Logits, acts.Targets, Config.VocabSize);
        int count = 0;
        foreach (int target in targets) count += target >= 0 ? 1 : 0;
        double sum = Backend.Sum(acts.Losses); // ignored positions have loss 0
        _lossTokenCount = count;
        _logitsReadyForBackward = true;
        _logitsHoldGradient = false;
        return count == 0 ? 0f : (float)(sum / count);
    }

    /// <summary>
    /// Copies the last forward-with-targets' per-position cross-entropy (B·T; 0 where the target is −1) to
    /// <paramref name="losses"/>: call after that forward and before its backward. Multiple-choice scoring sums it per choice.
    /// </summary>
    public void CopyTokenLosses(Span<float> losses) => ForwardReadout.CopyLosses(Backend, _acts?.Losses, _logitsReadyForBackward, losses);

    /// <summary>
    /// Writes each position's most likely token (the argmax of the last forward's logits over the real vocabulary) to
    /// <paramref name="tokens"/> (B·T): call after a forward and before its backward, which overwrites the logits.
    /// </summary>
    public void PredictTokens(Span<int> tokens) =>
        ForwardReadout.PredictTokens(Backend, _acts?.Predictions, _acts?.Logits, _logitsHoldGradient, Config.VocabSize, tokens);

    /// <summary>Sets every gradient to zero (call once per optimizer step; Backward accumulates, so micro-batches add up).</summary>
    public void ZeroGradients() => Backend.Clear(Gradients);

    private static InvalidOperationException NotTrainable() =>
        new("this model was loaded for inference: it has no gradients (load it with trainable: true to train it)");

    /// <summary>
    /// Accumulates into <see cref="Gradients"/> the gradient of lossScale × (the mean loss of the last Forward with targets),
    /// with that forward's positions and document boundaries. Use lossScale = 1/k to average k accumulated micro-batches.
    /// </summary>
    public void Backward(float lossScale = 1f)
    {
        if (!IsTrainable) throw NotTrainable();
        if (!_logitsReadyForBackward || _acts is null)
            throw new InvalidOperationException("Backward needs a Forward with targets first (and runs once per forward)");
        _logitsReadyForBackward = false;
        _logitsHoldGradient = true;
        var a = _acts;
        var s = a.Scratch;
        float dlossScale = _lossTokenCount == 0 ? 0f : lossScale / _lossTokenCount;

        Backend.CrossEntropyBackward(a.Logits, a.Logits, a.Losses, a.Targets, Config.VocabSize, dlossScale);
        // the head's input gradient lands in ResidualGrad when the head reads the last residual directly; otherwise it
        // passes back through the head transform (into Projection when a final norm follows) and the final norm
        bool direct = _finalNorm is null && _headTransform is null;
        Backend.LinearBackward(direct ? s.ResidualGrad : s.NormGrad, HeadWeightGrad!, HeadBiasGrad, a.Logits, a.HeadInput, HeadWeight);
        Tensor trunkGrad = s.NormGrad; // gradient of the trunk's output (final norm's output, or the last residual)
        if (_headTransform is not null)
        {
            trunkGrad = _finalNorm is null ? s.ResidualGrad : s.Projection;
            _headTransform.Backward(Backend, trunkGrad, s.NormGrad, a.Trunk, a.HeadTransform!);
        }
        if (_finalNorm is not null)
        {
            Backend.Clear(s.ResidualGrad);
            _finalNorm.Backward(Backend, s.ResidualGrad, trunkGrad, a.Residuals[^1], a.FinalNormStatistics!);
        }
        var context = a.StepContext;
        var positions = context.Positions;
        for (int l = _blocks.Length - 1; l >= 0; l--) _blocks[l].Backward(Backend, a.Residuals[l], a.Blocks[l], context, s);
        var embeddingGrad = s.ResidualGrad;
        if (_embeddingNorm is not null)
        {
            Backend.Clear(s.NormGrad);
            _embeddingNorm.Backward(Backend, s.NormGrad, s.ResidualGrad, a.EmbeddingSum!, a.EmbeddingNormStatistics!);
            embeddingGrad = s.NormGrad;
        }
        _tokenEmbedding.Backward(Backend, embeddingGrad, a.Tokens);
        _positionEmbedding?.Backward(Backend, embeddingGrad, positions);
        _tokenTypeEmbedding?.Backward(Backend, embeddingGrad, a.TokenTypes!);
    }

    /// <summary>Global L2 norm of all gradients.</summary>
    public float GradientNorm() => (float)Math.Sqrt(Backend.SumOfSquares(Gradients));

    /// <summary>
    /// One full training step: zero gradients, forward, loss, backward, clip the global gradient norm to maxGradNorm
    /// (as torch.nn.utils.clip_grad_norm_; 0 or less disables clipping), AdamW update. Throws
    /// <see cref="NonFiniteLossException"/> (parameters untouched) when the loss or gradient norm is NaN or infinite.
    /// <paramref name="documentStarts"/> packs several documents into a row, as for <see cref="Forward(ReadOnlySpan{int}, int, int, ReadOnlySpan{int}, ReadOnlySpan{int})"/>.
    /// </summary>
    public TrainStepResult TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batchSize, int sequenceLength,
        AdamWOptimizer optimizer, float learningRate, float maxGradNorm, ReadOnlySpan<int> documentStarts = default)
    {
        int step = optimizer.StepCount + 1;
        ZeroGradients();
        float loss = Forward(tokens, targets, batchSize, sequenceLength, documentStarts);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException(step, "loss", loss);
        Backward();
        float norm = GradientNorm();
        if (!float.IsFinite(norm)) throw new NonFiniteLossException(step, "gradient norm", norm);
        float clipScale = maxGradNorm > 0 ? Math.Min(1f, maxGradNorm / (norm + 1e-6f)) : 1f;
        optimizer.Step(Parameters, Gradients, learningRate, clipScale);
        return new TrainStepResult(optimizer.StepCount, loss, norm, clipScale);
    }

    /// <summary>The attention heads' layout (heads, key/value heads, head size, causal).</summary>
    public AttentionLayout AttentionLayout => _blocks[0].Attention.Layout;

    /// <summary>
    /// A KV cache for <paramref name="slots"/> sequences of up to <paramref name="capacity"/> positions (default: the
    /// context length), with its own scratch: one cache per inference session, any number on one model.
    /// </summary>
    public KeyValueCache CreateCache(int slots, int? capacity = null)
    {
        if (!Config.Causal) throw new InvalidOperationException($"a {Config.Family} model with bidirectional attention does not generate; it has no KV cache");
        if (_tokenTypeEmbedding is not null || _embeddingNorm is not null || _headTransform is not null || HeadBias is not null)
            throw new InvalidOperationException("the KV cache does not run token-type embeddings, an embedding norm, a head transform or a head bias");
        return new KeyValueCache(this, slots, capacity ?? Config.ContextLength);
    }

    /// <summary>
    /// Runs new tokens through the model against a KV cache (inference; reads the parameters only, so several caches
    /// may use one model from several threads). Row n is token tokens[n] of the sequence in cache slot slots[n], at
    /// position positions[n]: its keys and values join the cache there, and it attends to that slot's positions
    /// [0, positions[n]], which earlier calls (or earlier rows of this one) must have filled. A prefill is a run of
    /// consecutive positions of one slot; a decode step is one row per sequence; one call may mix both. Writes the
    /// logits of the rows listed in <paramref name="logitRows"/> to <paramref name="logits"/> (logitRows.Length × V, row-major).
    /// </summary>
    public void ForwardCached(KeyValueCache cache, ReadOnlySpan<int> tokens, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<int> logitRows, Span<float> logits)
    {
        if (cache.Model != this) throw new ArgumentException("the cache was made by another model", nameof(cache));
        int n = tokens.Length, m = logitRows.Length, v = Config.VocabSize;
        if (n == 0) throw new ArgumentException("no tokens to run", nameof(tokens));
        if (slots.Length != n || positions.Length != n)
            throw new ArgumentException($"got {n} tokens, {slots.Length} slots and {positions.Length} positions; expected one slot and one position per token");
        if (logits.Length != (long)m * v)
            throw new ArgumentException($"logits holds {logits.Length} floats, expected {m} rows × vocabulary {v}", nameof(logits));
        CheckIds(tokens, nameof(tokens), allowIgnore: false);
        for (int i = 0; i < n; i++)
        {
            if ((uint)slots[i] >= (uint)cache.Slots)
                throw new ArgumentOutOfRangeException(nameof(slots), $"slots[{i}] = {slots[i]} is outside the cache's {cache.Slots} slots");
            if ((uint)positions[i] >= (uint)cache.Capacity)
                throw new ArgumentOutOfRangeException(nameof(positions), $"positions[{i}] = {positions[i]} is outside the cache's capacity of {cache.Capacity} positions");
        }
        for (int i = 0; i < m; i++)
        {
            if ((uint)logitRows[i] >= (uint)n)
                throw new ArgumentOutOfRangeException(nameof(logitRows), $"logitRows[{i}] = {logitRows[i]} is not one of the {n} rows");
        }

        var s = cache.Scratch(n, m);
        Backend.CopyFromHost(s.Tokens, tokens);
        Backend.CopyFromHost(s.Slots, slots);
        Backend.CopyFromHost(s.Positions, positions);
        Backend.CopyFromHost(s.LogitRows, logitRows);
        _tokenEmbedding.Forward(Backend, s.Residual, s.Tokens, accumulate: false);
        _positionEmbedding?.Forward(Backend, s.Residual, s.Positions, accumulate: true);
        for (int l = 0; l < _blocks.Length; l++) _blocks[l].ForwardCached(Backend, s, cache.Keys[l], cache.Values[l]);
        var final = s.Residual;
        if (_finalNorm is not null)
        {
            _finalNorm.Forward(Backend, s.Normed, s.Statistics, s.Residual);
            final = s.Normed;
        }
        if (m == 0) return;
        // only the rows that want logits go through the head (a prefill wants its last row's): gather, then project
        Backend.EmbeddingForward(s.Gathered, s.LogitRows, final, accumulate: false);
        Backend.LinearForward(s.Logits, s.Gathered, HeadWeight, null);
        int vp = Config.PaddedVocabSize;
        for (int i = 0; i < m; i++) Backend.CopyToHost(s.Logits.Slice((long)i * vp, new TensorShape(v)), logits.Slice(i * v, v));
    }

    private void RunForward(TransformerActivations a)
    {
        var context = a.StepContext;
        var positions = context.Positions;
        // the embeddings sum into the first residual, or into EmbeddingSum when a LayerNorm follows them (BERT)
        var embedded = a.EmbeddingSum ?? a.Residuals[0];
        _tokenEmbedding.Forward(Backend, embedded, a.Tokens, accumulate: false);
        _positionEmbedding?.Forward(Backend, embedded, positions, accumulate: true);
        _tokenTypeEmbedding?.Forward(Backend, embedded, a.TokenTypes!, accumulate: true);
        _embeddingNorm?.Forward(Backend, a.Residuals[0], a.EmbeddingNormStatistics!, embedded);
        for (int l = 0; l < _blocks.Length; l++) _blocks[l].Forward(Backend, a.Residuals[l + 1], a.Residuals[l], a.Blocks[l], context, a.Scratch);
        _finalNorm?.Forward(Backend, a.FinalNorm!, a.FinalNormStatistics!, a.Residuals[^1]);
        _headTransform?.Forward(Backend, a.Trunk, a.HeadTransform!);
        Backend.LinearForward(a.Logits, a.HeadInput, HeadWeight, HeadBias);
    }

    private TransformerActivations Prepare(ReadOnlySpan<int> tokens, int batchSize, int sequenceLength)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be >= 1, got {batchSize}");
        if (sequenceLength < 1 || sequenceLength > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(sequenceLength),
                $"sequence length {sequenceLength} is outside [1, {Config.ContextLength}] (the model's context length)");
        if (tokens.Length != (long)batchSize * sequenceLength)
            throw new ArgumentException($"got {tokens.Length} tokens, expected batch size {batchSize} × sequence length {sequenceLength} = {batchSize * sequenceLength}", nameof(tokens));
        CheckIds(tokens, nameof(tokens), allowIgnore: false);
        if (_acts is null || _acts.BatchSize != batchSize || _acts.TokenCount != sequenceLength)
        {
            _acts?.Dispose();
            _acts = null;
            _logitsReadyForBackward = false;
            _acts = new TransformerActivations(Backend, Config, _blocks, _finalNorm, _embeddingNorm, _headTransform, batchSize, sequenceLength);
        }
        return _acts;
    }

    private void CheckIds(ReadOnlySpan<int> ids, string name, bool allowIgnore) => TokenIds.Check(ids, name, Config.VocabSize, allowIgnore);

    // Empty, or one type per token in [0, TokenTypeCount) for a model with a token-type table.
    private void CheckTokenTypes(ReadOnlySpan<int> tokenTypes, int tokenCount)
    {
        if (tokenTypes.IsEmpty) return;
        if (Config.TokenTypeCount == 0)
            throw new ArgumentException($"a {Config.Family} model has no token types; pass none", nameof(tokenTypes));
        if (tokenTypes.Length != tokenCount)
            throw new ArgumentException($"got {tokenTypes.Length} token types for {tokenCount} tokens; expected one per token (or none)", nameof(tokenTypes));
        for (int i = 0; i < tokenTypes.Length; i++)
        {
            if ((uint)tokenTypes[i] >= (uint)Config.TokenTypeCount)
                throw new ArgumentOutOfRangeException(nameof(tokenTypes), $"tokenTypes[{i}] = {tokenTypes[i]} is outside [0, {Config.TokenTypeCount}) (the model's token types)");
        }
    }

    // Empty, or one start per token: 0 at a row's first token, then the previous token's start or the token's own index.
    private static void CheckDocumentStarts(ReadOnlySpan<int> documentStarts, int tokenCount, int sequenceLength)
    {
        if (documentStarts.IsEmpty) return;
        if (documentStarts.Length != tokenCount)
            throw new ArgumentException(
                $"got {documentStarts.Length} document starts for {tokenCount} tokens; expected one per token (or none)", nameof(documentStarts));
        for (int i = 0; i < documentStarts.Length; i++)
        {
            int t = i % sequenceLength, start = documentStarts[i];
            if (t == 0 ? start != 0 : start != documentStarts[i - 1] && start != t)
                ThrowBadDocumentStart(documentStarts, i, sequenceLength);
        }
    }

    private static void ThrowBadDocumentStart(ReadOnlySpan<int> documentStarts, int index, int sequenceLength)
    {
        int row = index / sequenceLength, t = index % sequenceLength;
        string where = $"documentStarts[{index}] = {documentStarts[index]} (row {row}, position {t})";
        throw new ArgumentOutOfRangeException(nameof(documentStarts), t == 0
            ? $"{where}: a row's first token starts a document, expected 0"
            : $"{where}: expected {documentStarts[index - 1]} (the document of position {t - 1}) or {t} (a new document starting here)");
    }


    public void Dispose()
    {
        _acts?.Dispose();
        Parameters.Dispose();
        _gradients?.Dispose();
    }
}
