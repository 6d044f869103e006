using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>y = x·Wᵀ + b, weight (out, in) as nn.Linear, bias optional.</summary>
internal sealed class Linear
{
    private readonly string _weightName;
    private readonly string? _biasName;

    public Linear(ParameterLayoutBuilder layout, string name, int inFeatures, int outFeatures, bool bias, ParameterInit init)
    {
        _weightName = name + ".weight";
        layout.Declare(_weightName, decay: true, init, outFeatures, inFeatures);
        if (bias)
        {
            _biasName = name + ".bias";
            layout.Declare(_biasName, decay: false, ParameterInit.Zeros, outFeatures);
        }
    }

    public Tensor Weight { get; private set; } = null!;      // (OC, C)
    public Tensor WeightGrad { get; private set; } = null!;  // (OC, C)
    public Tensor? Bias { get; private set; }                // (OC)
    public Tensor? BiasGrad { get; private set; }            // (OC)

    public void Bind(ParameterViews views)
    {
        Weight = views.Value(_weightName);
        WeightGrad = views.Gradient(_weightName);
        if (_biasName is null) return;
        Bias = views.Value(_biasName);
        BiasGrad = views.Gradient(_biasName);
    }

    // output (N,OC) = input (N,C)·Wᵀ + b
    public void Forward(IBackend backend, Tensor output, Tensor input) => backend.LinearForward(output, input, Weight, Bias);

    // inputGrad (N,C) overwritten; weight and bias gradients accumulated
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input) =>
        backend.LinearBackward(inputGrad, WeightGrad, BiasGrad, outputGrad, input, Weight);
}
