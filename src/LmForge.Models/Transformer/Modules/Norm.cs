using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>What a norm's backward needs from its forward: the row means (LayerNorm only) and reciprocal standard deviations, (N) each.</summary>
internal sealed record NormStatistics(Tensor? Mean, Tensor Rstd);

/// <summary>LayerNorm (gain and optional bias) or RMSNorm (gain only) over the last dimension, epsilon from the config.</summary>
internal sealed class Norm
{
    private readonly string _weightName;
    private readonly string? _biasName;

    public Norm(ParameterLayoutBuilder layout, string name, int channels, NormKind kind, float epsilon, bool bias)
    {
        Kind = kind;
        Epsilon = epsilon;
        _weightName = name + ".weight";
        layout.Declare(_weightName, decay: false, ParameterInit.Ones, channels);
        if (bias)
        {
            _biasName = name + ".bias";
            layout.Declare(_biasName, decay: false, ParameterInit.Zeros, channels);
        }
    }

    public NormKind Kind { get; }
    public float Epsilon { get; }
    private Tensor Weight { get; set; } = null!;
    private Tensor WeightGrad { get; set; } = null!;
    private Tensor? Bias { get; set; }
    private Tensor? BiasGrad { get; set; }

    public void Bind(ParameterViews views)
    {
        Weight = views.Value(_weightName);
        WeightGrad = views.Gradient(_weightName);
        if (_biasName is null) return;
        Bias = views.Value(_biasName);
        BiasGrad = views.Gradient(_biasName);
    }

    public NormStatistics PlanStatistics(ActivationAllocator allocate, int batchSize, int tokenCount) =>
        new(Kind == NormKind.LayerNorm ? allocate.Float(batchSize, tokenCount) : null, allocate.Float(batchSize, tokenCount));

    // output (B,T,C) = norm(input (B,T,C)); saves the statistics
    public void Forward(IBackend backend, Tensor output, NormStatistics statistics, Tensor input)
    {
        if (Kind == NormKind.LayerNorm) backend.LayerNormForward(output, statistics.Mean!, statistics.Rstd, input, Weight, Bias, Epsilon);
        else backend.RmsNormForward(output, statistics.Rstd, input, Weight, Epsilon);
    }

    // inputGrad (B,T,C) is ACCUMULATED into: a norm's input is a residual stream that also receives the skip gradient
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input, NormStatistics statistics)
    {
        if (Kind == NormKind.LayerNorm)
            backend.LayerNormBackward(inputGrad, WeightGrad, BiasGrad, outputGrad, input, Weight, statistics.Mean!, statistics.Rstd);
        else backend.RmsNormBackward(inputGrad, WeightGrad, outputGrad, input, Weight, statistics.Rstd);
    }
}
