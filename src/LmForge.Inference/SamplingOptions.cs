namespace LmForge.Inference;

/// <summary>
/// How to pick each next token: temperature 0 is greedy; otherwise logits/temperature are softmaxed, cut to the TopK most
/// likely (0 = all) and then to the smallest set whose probability reaches TopP (1 = all), and one token is drawn.
/// Seed null draws a fresh seed, so repeated samples of one prompt differ; a fixed seed repeats them exactly.
/// </summary>
public sealed record SamplingOptions(float Temperature = 1.0f, int TopK = 0, float TopP = 1.0f, int MaxTokens = 128, ulong? Seed = null)
{
    public void Validate()
    {
        if (!(Temperature >= 0) || !float.IsFinite(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), $"temperature {Temperature} is invalid; expected 0 (greedy) or a positive number");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), $"top-k {TopK} is invalid; expected 0 (off) or a positive count");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), $"top-p {TopP} is invalid; expected a probability in (0, 1]");
        if (MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxTokens), $"max tokens {MaxTokens} is invalid; expected 0 or more");
    }
}
