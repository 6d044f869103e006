namespace LmForge.Models.Gpt;

/// <summary>
/// Shape of a GPT-2 model. The embedding table has <see cref="PaddedVocabSize"/> rows (the vocabulary rounded up to
/// <see cref="VocabPadding"/>) so the output projection has a friendly width; the padded rows start at zero, never
/// receive gradient, and the loss is taken over the real <see cref="VocabSize"/> only.
/// </summary>
public sealed record GptConfig(int VocabSize, int ContextLength, int LayerCount, int HeadCount, int Width)
{
    /// <summary>The padded vocabulary is a multiple of this (128 by default; GPT-2's 50257 becomes 50304).</summary>
    public int VocabPadding { get; init; } = 128;

    public int PaddedVocabSize => VocabPadding <= 0 ? VocabSize : (VocabSize + VocabPadding - 1) / VocabPadding * VocabPadding;

    public int HeadSize => HeadCount > 0 ? Width / HeadCount : 0;

    /// <summary>The 124M-parameter GPT-2 ("gpt2" on Hugging Face).</summary>
    public static GptConfig Gpt2Small { get; } = new(VocabSize: 50257, ContextLength: 1024, LayerCount: 12, HeadCount: 12, Width: 768);

    /// <summary>Throws ArgumentException naming the first field that is out of range.</summary>
    public void Validate()
    {
        if (VocabSize < 1) throw new ArgumentOutOfRangeException(nameof(VocabSize), $"GptConfig.VocabSize must be >= 1, got {VocabSize}");
        if (ContextLength < 1) throw new ArgumentOutOfRangeException(nameof(ContextLength), $"GptConfig.ContextLength must be >= 1, got {ContextLength}");
        if (LayerCount < 1) throw new ArgumentOutOfRangeException(nameof(LayerCount), $"GptConfig.LayerCount must be >= 1, got {LayerCount}");
        if (HeadCount < 1) throw new ArgumentOutOfRangeException(nameof(HeadCount), $"GptConfig.HeadCount must be >= 1, got {HeadCount}");
        if (Width < 1 || Width % HeadCount != 0)
            throw new ArgumentOutOfRangeException(nameof(Width), $"GptConfig.Width must be a positive multiple of HeadCount {HeadCount}, got {Width}");
        if (VocabPadding < 0) throw new ArgumentOutOfRangeException(nameof(VocabPadding), $"GptConfig.VocabPadding must be >= 0, got {VocabPadding}");
    }
}
