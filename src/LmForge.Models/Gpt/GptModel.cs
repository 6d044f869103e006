using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Models.Gpt;

/// <summary>
/// GPT-2: token + position embedding, pre-LN transformer blocks (causal self-attention and a GELU MLP, each added to
/// the residual stream), a final layer norm and an output projection tied to the token embedding.
/// All parameters live in one buffer (<see cref="Parameters"/>), all gradients in another (<see cref="Gradients"/>);
/// activations are planned once per (batch, sequence length), so a training step allocates nothing.
/// </summary>
/// <example>
/// <code>
/// using var model = new GptModel(config);
/// model.InitializeWeights(seed: 1337);
/// using var optimizer = model.CreateOptimizer(new AdamWSettings(WeightDecay: 0.1f));
/// GptStepResult r = model.TrainStep(tokens, targets, batchSize, seqLen, optimizer, learningRate: 6e-4f, maxGradNorm: 1f);
/// </code>
/// </example>
public sealed class GptModel : IDisposable
{
    private readonly IReadOnlyList<GptParameter> _layout;
    private readonly Dictionary<string, GptParameter> _layoutByName;
    private readonly GptWeights _weights;
    private readonly GptWeights _grads;
    private GptActivations? _acts;
    private NativeBuffer? _activationMemory;
    private int _lossTokenCount;
    private bool _logitsReadyForBackward;

    public GptModel(GptConfig config, IBackend? backend = null)
    {
        config.Validate();
        Config = config;
        Backend = backend ?? CpuBackend.Shared;
        _layout = GptParameterLayout.Build(config);
        _layoutByName = _layout.ToDictionary(p => p.Name, StringComparer.Ordinal);
        ParameterCount = _layout.Sum(p => p.Length);
        if (ParameterCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(config), $"{ParameterCount} parameters do not fit one buffer of at most {int.MaxValue}");
        DecayedParameterCount = _layout.Where(p => p.WeightDecay).Sum(p => p.Length);
        Parameters = Tensor.Allocate((int)ParameterCount);
        Gradients = Tensor.Allocate((int)ParameterCount);
        _weights = new GptWeights(Parameters.Buffer, _layout, config.LayerCount);
        _grads = new GptWeights(Gradients.Buffer, _layout, config.LayerCount);
    }

    public GptConfig Config { get; }

    public IBackend Backend { get; }

    /// <summary>Every parameter in buffer order: name, shape, offset into <see cref="Parameters"/>, and whether it is weight-decayed.</summary>
    public IReadOnlyList<GptParameter> ParameterLayout => _layout;

    public long ParameterCount { get; }

    /// <summary>The decayed parameters are exactly elements [0, DecayedParameterCount) of the buffer.</summary>
    public long DecayedParameterCount { get; }

    /// <summary>All parameters, flat (P).</summary>
    public Tensor Parameters { get; }

    /// <summary>All gradients, flat (P), same layout as <see cref="Parameters"/>.</summary>
    public Tensor Gradients { get; }

    /// <summary>(B,T,Vp) logits of the last forward (padded columns are 0 while the padded embedding rows are 0). The backward overwrites them with their gradient.</summary>
    public Tensor Logits => _acts?.Logits ?? throw new InvalidOperationException("no forward pass has run yet");

    /// <summary>A view of one named parameter inside <see cref="Parameters"/>.</summary>
    public Tensor GetParameter(string name) => _weights.ByName.TryGetValue(name, out var t) ? t : throw UnknownParameter(name);

    /// <summary>A view of one named gradient inside <see cref="Gradients"/>.</summary>
    public Tensor GetGradient(string name) => _grads.ByName.TryGetValue(name, out var t) ? t : throw UnknownParameter(name);

    public GptParameter GetParameterInfo(string name) => _layoutByName.TryGetValue(name, out var p) ? p : throw UnknownParameter(name);

    /// <summary>An AdamW optimizer whose weight decay covers exactly this model's matrices.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings) => new(Backend, ParameterCount, DecayedParameterCount, settings);

    /// <summary>
    /// GPT-2 initialization: weights ~ N(0, 0.02), the two residual projections (attn.c_proj, mlp.c_proj) ~ N(0, 0.02/√(2·layers)),
    /// biases 0, layer-norm gains 1, padded embedding rows 0. Deterministic for a seed.
    /// </summary>
    public void InitializeWeights(int seed)
    {
        var random = new Random(seed);
        float residualStd = 0.02f / MathF.Sqrt(2f * Config.LayerCount);
        foreach (var p in _layout)
        {
            var span = _weights.ByName[p.Name].AsSpan();
            if (p.Name.EndsWith(".bias", StringComparison.Ordinal)) span.Clear();
            else if (p.Name.Contains("ln_", StringComparison.Ordinal)) span.Fill(1f);
            else
            {
                float std = p.Name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? residualStd : 0.02f;
                int rows = p.Name == "wte.weight" ? Config.VocabSize * Config.Width : span.Length;
                FillNormal(random, span[..rows], std);
                span[rows..].Clear();
            }
        }
    }

    /// <summary>Runs the model on tokens (B·T, row-major) and fills <see cref="Logits"/>.</summary>
    public void Forward(ReadOnlySpan<int> tokens, int batchSize, int sequenceLength)
    {
        var acts = Prepare(tokens, batchSize, sequenceLength);
        tokens.CopyTo(acts.Tokens);
        RunForward(acts);
        _logitsReadyForBackward = false;
    }

    /// <summary>
    /// Runs the model and returns the mean cross-entropy of predicting targets (B·T; −1 = ignore this position).
    /// Keeps what <see cref="Backward"/> needs.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batchSize, int sequenceLength)
    {
        var acts = Prepare(tokens, batchSize, sequenceLength);
        if (targets.Length != tokens.Length)
            throw new ArgumentException($"got {targets.Length} targets for {tokens.Length} tokens; expected one target per token", nameof(targets));
        CheckIds(targets, nameof(targets), allowIgnore: true);
        tokens.CopyTo(acts.Tokens);
        targets.CopyTo(acts.Targets);
        RunForward(acts);
        Backend.CrossEntropyForward(acts.Losses, acts.Logits, acts.Targets, Config.VocabSize);
        int count = 0;
        foreach (int target in targets) count += target >= 0 ? 1 : 0;
        double sum = Backend.Sum(acts.Losses); // ignored positions have loss 0
        _lossTokenCount = count;
        _logitsReadyForBackward = true;
        return count == 0 ? 0f : (float)(sum / count);
    }

    /// <summary>Sets every gradient to zero (call once per optimizer step; Backward accumulates, so micro-batches add up).</summary>
    public void ZeroGradients() => Backend.Clear(Gradients);

    /// <summary>
    /// Accumulates into <see cref="Gradients"/> the gradient of lossScale × (the mean loss of the last Forward with targets).
    /// Use lossScale = 1/k to average k accumulated micro-batches.
    /// </summary>
    public void Backward(float lossScale = 1f)
    {
        if (!_logitsReadyForBackward || _acts is null)
            throw new InvalidOperationException("Backward needs a Forward with targets first (and runs once per forward)");
        _logitsReadyForBackward = false;
        var a = _acts;
        var w = _weights;
        var g = _grads;
        var attention = AttentionLayout.Fused(Config.HeadCount, Config.HeadCount, Config.HeadSize, causal: true);
        float dlossScale = _lossTokenCount == 0 ? 0f : lossScale / _lossTokenCount;

        Backend.CrossEntropyBackward(a.Logits, a.Logits, a.Losses, a.Targets, Config.VocabSize, dlossScale);
        Backend.LinearBackward(a.NormGrad, g.TokenEmbedding, null, a.Logits, a.FinalNorm, w.TokenEmbedding);
        Backend.Clear(a.ResidualGrad);
        Backend.LayerNormBackward(a.ResidualGrad, g.FinalNormWeight, g.FinalNormBias, a.NormGrad, a.Residuals[Config.LayerCount],
            w.FinalNormWeight, a.FinalNormMean, a.FinalNormRstd);

        // ResidualGrad holds the gradient of layer l's output; the residual adds pass it unchanged to both branches.
        for (int l = Config.LayerCount - 1; l >= 0; l--)
        {
            var lw = w.Layers[l];
            var lg = g.Layers[l];
            Backend.LinearBackward(a.WideGrad, lg.FcProjectionWeight, lg.FcProjectionBias, a.ResidualGrad, a.FcGelu[l], lw.FcProjectionWeight);
            Backend.GeluBackward(a.WideGrad, a.Fc[l], a.WideGrad);
            Backend.LinearBackward(a.NormGrad, lg.FcWeight, lg.FcBias, a.WideGrad, a.Norm2[l], lw.FcWeight);
            Backend.LayerNormBackward(a.ResidualGrad, lg.Norm2Weight, lg.Norm2Bias, a.NormGrad, a.Residual2[l], lw.Norm2Weight, a.Norm2Mean[l], a.Norm2Rstd[l]);

            Backend.LinearBackward(a.NormGrad, lg.AttentionProjectionWeight, lg.AttentionProjectionBias, a.ResidualGrad, a.AttentionOutput[l],
                lw.AttentionProjectionWeight);
            Backend.AttentionBackward(a.QkvGrad, a.QkvGrad, null, a.NormGrad, a.Qkv[l], a.Qkv[l], a.AttentionOutput[l], a.AttentionLse[l], attention);
            Backend.LinearBackward(a.NormGrad, lg.QkvWeight, lg.QkvBias, a.QkvGrad, a.Norm1[l], lw.QkvWeight);
            Backend.LayerNormBackward(a.ResidualGrad, lg.Norm1Weight, lg.Norm1Bias, a.NormGrad, a.Residuals[l], lw.Norm1Weight, a.Norm1Mean[l], a.Norm1Rstd[l]);
        }
        Backend.EncoderBackward(g.TokenEmbedding, g.PositionEmbedding, a.ResidualGrad, a.Tokens);
    }

    /// <summary>Global L2 norm of all gradients.</summary>
    public float GradientNorm() => (float)Math.Sqrt(Backend.SumOfSquares(Gradients));

    /// <summary>
    /// One full training step: zero gradients, forward, loss, backward, clip the global gradient norm to maxGradNorm
    /// (as torch.nn.utils.clip_grad_norm_; 0 or less disables clipping), AdamW update. Throws
    /// <see cref="NonFiniteLossException"/> (parameters untouched) when the loss or gradient norm is NaN or infinite.
    /// </summary>
    public GptStepResult TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batchSize, int sequenceLength,
        AdamWOptimizer optimizer, float learningRate, float maxGradNorm)
    {
        int step = optimizer.StepCount + 1;
        ZeroGradients();
        float loss = Forward(tokens, targets, batchSize, sequenceLength);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException(step, "loss", loss);
        Backward();
        float norm = GradientNorm();
        if (!float.IsFinite(norm)) throw new NonFiniteLossException(step, "gradient norm", norm);
        float clipScale = maxGradNorm > 0 ? Math.Min(1f, maxGradNorm / (norm + 1e-6f)) : 1f;
        optimizer.Step(Parameters, Gradients, learningRate, clipScale);
        return new GptStepResult(optimizer.StepCount, loss, norm, clipScale);
    }

    private void RunForward(GptActivations a)
    {
        var w = _weights;
        var attention = AttentionLayout.Fused(Config.HeadCount, Config.HeadCount, Config.HeadSize, causal: true);
        Backend.EncoderForward(a.Residuals[0], a.Tokens, w.TokenEmbedding, w.PositionEmbedding);
        for (int l = 0; l < Config.LayerCount; l++)
        {
            var lw = w.Layers[l];
            Backend.LayerNormForward(a.Norm1[l], a.Norm1Mean[l], a.Norm1Rstd[l], a.Residuals[l], lw.Norm1Weight, lw.Norm1Bias);
            Backend.LinearForward(a.Qkv[l], a.Norm1[l], lw.QkvWeight, lw.QkvBias);
            Backend.AttentionForward(a.AttentionOutput[l], a.AttentionLse[l], a.Qkv[l], a.Qkv[l], attention);
            Backend.LinearForward(a.Projection, a.AttentionOutput[l], lw.AttentionProjectionWeight, lw.AttentionProjectionBias);
            Backend.ResidualForward(a.Residual2[l], a.Residuals[l], a.Projection);
            Backend.LayerNormForward(a.Norm2[l], a.Norm2Mean[l], a.Norm2Rstd[l], a.Residual2[l], lw.Norm2Weight, lw.Norm2Bias);
            Backend.LinearForward(a.Fc[l], a.Norm2[l], lw.FcWeight, lw.FcBias);
            Backend.GeluForward(a.FcGelu[l], a.Fc[l]);
            Backend.LinearForward(a.Projection, a.FcGelu[l], lw.FcProjectionWeight, lw.FcProjectionBias);
            Backend.ResidualForward(a.Residuals[l + 1], a.Residual2[l], a.Projection);
        }
        Backend.LayerNormForward(a.FinalNorm, a.FinalNormMean, a.FinalNormRstd, a.Residuals[Config.LayerCount], w.FinalNormWeight, w.FinalNormBias);
        Backend.LinearForward(a.Logits, a.FinalNorm, w.TokenEmbedding, null);
    }

    private GptActivations Prepare(ReadOnlySpan<int> tokens, int batchSize, int sequenceLength)
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
            // plan views for the new shape; native memory is reallocated only when it grows
            _acts = null;
            long required = GptActivations.RequiredLength(Config, batchSize, sequenceLength);
            if (_activationMemory is null || _activationMemory.Length < required)
            {
                _activationMemory?.Dispose();
                _activationMemory = null;
                _activationMemory = NativeBuffer.Allocate(required);
            }
            _acts = new GptActivations(Config, batchSize, sequenceLength, _activationMemory);
            _logitsReadyForBackward = false;
        }
        return _acts;
    }

    private void CheckIds(ReadOnlySpan<int> ids, string name, bool allowIgnore)
    {
        int lowest = allowIgnore ? -1 : 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < lowest || ids[i] >= Config.VocabSize)
                ThrowIdOutOfRange(name, ids[i], i, lowest);
        }
    }

    private void ThrowIdOutOfRange(string name, int id, int index, int lowest) =>
        throw new ArgumentOutOfRangeException(name, $"{name}[{index}] = {id} is outside the vocabulary [{lowest}, {Config.VocabSize})");

    private static void FillNormal(Random random, Span<float> values, float std)
    {
        // Box–Muller, two values per pair of uniforms
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double radius = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            values[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < values.Length) values[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
    }

    private static KeyNotFoundException UnknownParameter(string name) => new($"the model has no parameter named '{name}'");

    public void Dispose()
    {
        _activationMemory?.Dispose();
        Parameters.Dispose();
        Gradients.Dispose();
    }
}
