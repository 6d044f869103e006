namespace LmForge.Inference;

/// <summary>
/// How to pick each next token and when to stop, applied in Hugging Face's order: the repetition penalty divides the
/// positive logits (multiplies the negative ones) of tokens already in the sequence; temperature 0 is greedy, else
/// logits are divided by it; <see cref="TopK"/> keeps the k most likely tokens (0: all); <see cref="TopP"/> keeps the
/// smallest set of those whose probability, renormalized after top-k, reaches p (1: all); <see cref="MinP"/> drops
/// tokens less likely than min-p × the most likely one (0: none); one token is drawn from what is left.
/// A fixed <see cref="Seed"/> repeats a sample exactly; null draws a fresh one.
/// Generation stops at <see cref="MaxTokens"/> new tokens, at a token of <see cref="StopTokens"/> (not part of the
/// text), or when the text contains one of <see cref="StopStrings"/> (the text ends before it), whichever comes first.
/// </summary>
public sealed record SamplingOptions(float Temperature = 1.0f, int TopK = 0, float TopP = 1.0f, int MaxTokens = 128, ulong? Seed = null)
{
    public float MinP { get; init; }

    /// <summary>1 is off; Hugging Face's (CTRL's) penalty: above 1 discourages repeating tokens of the prompt and the output.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    public IReadOnlyList<int> StopTokens { get; init; } = [];

    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Throws ArgumentOutOfRangeException naming the setting, its value and what is allowed.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || !float.IsFinite(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), $"temperature {Temperature} is invalid; expected 0 (greedy) or a positive number");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), $"top-k {TopK} is invalid; expected 0 (off) or a positive count");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), $"top-p {TopP} is invalid; expected a probability in (0, 1]");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentOutOfRangeException(nameof(MinP), $"min-p {MinP} is invalid; expected 0 (off) or a fraction in (0, 1]");
        if (!(RepetitionPenalty > 0) || !float.IsFinite(RepetitionPenalty))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), $"repetition penalty {RepetitionPenalty} is invalid; expected a positive number (1 is off)");
        if (MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxTokens), $"max tokens {MaxTokens} is invalid; expected 0 or more");
        foreach (string stop in StopStrings)
        {
            if (string.IsNullOrEmpty(stop)) throw new ArgumentOutOfRangeException(nameof(StopStrings), "a stop string is empty; every stop string needs at least one character");
        }
    }
}
