using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// The masked-LM head's transform (BERT's cls.predictions.transform) between the encoder's output and the output
/// projection: norm(act(dense(x))), dense (C→C) with bias, the config's activation, a LayerNorm.
/// </summary>
internal sealed class HeadTransform
{
    private readonly Activation _activation;

    public HeadTransform(ParameterLayoutBuilder layout, TransformerConfig config, string denseName, string normName)
    {
        _activation = config.Activation;
        Dense = new Linear(layout, denseName, config.Width, config.Width, bias: true, ParameterInit.Normal);
        Norm = new Norm(layout, normName, config.Width, config.Norm, config.NormEpsilon, config.NormBias);
    }

    public Linear Dense { get; }
    public Norm Norm { get; }

    public void Bind(ParameterViews views)
    {
        Dense.Bind(views);
        Norm.Bind(views);
    }

    /// <summary>
    /// Saved for the backward: the dense output (B,T,C), the activation's (B,T,C), the norm's statistics; Output (B,T,C)
    /// is what the head projects; ActivatedGrad (B,T,C) is the backward's scratch.
    /// </summary>
    public sealed record Activations(Tensor Hidden, Tensor Activated, NormStatistics Statistics, Tensor Output, Tensor ActivatedGrad);

    public Activations Plan(ActivationAllocator allocate, int b, int t, int c) => new(
        allocate.Float(b, t, c), allocate.Float(b, t, c), Norm.PlanStatistics(allocate, b, t), allocate.Float(b, t, c), allocate.Float(b, t, c));

    // a.Output (B,T,C) = norm(act(dense(input (B,T,C))))
    public void Forward(IBackend backend, Tensor input, Activations a)
    {
        // the activation in the dense product's output stage
        backend.LinearActivationForward(a.Hidden, a.Activated, input, Dense.Weight, Dense.Bias, _activation);
        Norm.Forward(backend, a.Output, a.Statistics, a.Activated);
    }

    // inputGrad (B,T,C) overwritten from outputGrad (B,T,C), which is overwritten too (it becomes the dense output's
    // gradient)
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input, Activations a)
    {
        backend.Clear(a.ActivatedGrad);
        Norm.Backward(backend, a.ActivatedGrad, outputGrad, a.Activated, a.Statistics);
        backend.ActivationBackward(outputGrad, a.Hidden, a.ActivatedGrad, _activation);
        Dense.Backward(backend, inputGrad, outputGrad, input);
    }
}
