using LmForge.Tensors;

namespace LmForge.Models.Gpt;

/// <summary>
/// One named parameter: where it lives in the model's single parameter buffer (the gradient has the same offset in the
/// gradient buffer). Names follow Hugging Face GPT-2 without the "transformer." prefix (wte.weight, h.0.attn.c_attn.weight,
/// ...), but matrices are stored as nn.Linear does, (out, in): Hugging Face's Conv1D stores the transpose.
/// </summary>
public sealed record GptParameter(string Name, TensorShape Shape, long Offset, bool WeightDecay)
{
    public long Length => Shape.Length;
}
