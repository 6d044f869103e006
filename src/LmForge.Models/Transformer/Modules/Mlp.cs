using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// The feed-forward block: down(act(up(x))) (GPT-2: GELU; BERT: GELU; original transformer: ReLU), or gated,
/// down(act(gate(x)) ⊙ up(x)) (SwiGLU with SiLU, GeGLU with GELU), with the gate and up projections fused into one
/// matrix whose rows are [gate | up].
/// </summary>
internal sealed class Mlp
{
    public Mlp(ParameterLayoutBuilder layout, TransformerConfig config, string upName, string downName)
    {
        Activation = config.Activation;
        Gated = config.GatedMlp;
        HiddenWidth = config.IntermediateSize;
        Up = new Linear(layout, upName, config.Width, Gated ? 2 * HiddenWidth : HiddenWidth, config.MlpBias, ParameterInit.Normal);
        Down = new Linear(layout, downName, HiddenWidth, config.Width, config.MlpBias, ParameterInit.ResidualNormal);
    }

    public Activation Activation { get; }
    public bool Gated { get; }
    /// <summary>I: the width after the activation (the up projection is 2·I wide when gated).</summary>
    public int HiddenWidth { get; }
    public int UpWidth => Gated ? 2 * HiddenWidth : HiddenWidth;
    public Linear Up { get; }
    public Linear Down { get; }

    public void Bind(ParameterViews views)
    {
        Up.Bind(views);
        Down.Bind(views);
    }

    /// <summary>The up projection's output (B,T,I or 2·I) and the activation's (B,T,I).</summary>
    public sealed record Activations(Tensor Hidden, Tensor Activated);

    public Activations Plan(ActivationAllocator allocate, int batchSize, int tokenCount) =>
        new(allocate.Float(batchSize, tokenCount, UpWidth), allocate.Float(batchSize, tokenCount, HiddenWidth));

    // output (B,T,C) = mlp(input (B,T,C))
    public void Forward(IBackend backend, Tensor output, Tensor input, Activations a)
    {
        if (Gated)
        {
            Up.Forward(backend, a.Hidden, input);
            backend.GatedActivationForward(a.Activated, a.Hidden, Activation);
        }
        else
        {
            // the activation in the up projection's output stage (the gated form mixes two column halves: it cannot)
            backend.LinearActivationForward(a.Hidden, a.Activated, input, Up.Weight, Up.Bias, Activation);
        }
        Down.Forward(backend, output, a.Activated);
    }

    // inputGrad (B,T,C) overwritten; activatedGrad (B,T,I) and hiddenGrad (B,T,UpWidth) are scratch (the same memory when not gated)
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input, Activations a, Tensor activatedGrad, Tensor hiddenGrad)
    {
        Down.Backward(backend, activatedGrad, outputGrad, a.Activated);
        if (Gated) backend.GatedActivationBackward(hiddenGrad, a.Hidden, activatedGrad, Activation);
        else backend.ActivationBackward(hiddenGrad, a.Hidden, activatedGrad, Activation);
        Up.Backward(backend, inputGrad, hiddenGrad, input);
    }
}
