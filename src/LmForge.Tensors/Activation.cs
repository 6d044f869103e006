namespace LmForge.Tensors;

/// <summary>The elementwise nonlinearities of <see cref="IBackend.ActivationForward"/> and the gated MLPs.</summary>
public enum Activation
{
    /// <summary>GELU, tanh approximation (GPT-2, Hugging Face "gelu_new" / "gelu_pytorch_tanh"): ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    GeluTanh,

    /// <summary>GELU with the exact normal CDF (BERT, torch's default "gelu"): ½·x·(1 + erf(x/√2)).</summary>
    GeluExact,

    /// <summary>max(0, x); the gradient at 0 is 0, as in torch.</summary>
    Relu,

    /// <summary>SiLU / swish (Llama's SwiGLU gate): x·σ(x).</summary>
    Silu,
}
