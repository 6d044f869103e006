namespace LmForge.Tokenization;

/// <summary>
/// The special tokens an encoder's objectives need: BERT's [PAD], [CLS], [SEP] and [MASK]. Added to a trained
/// tokenizer on request (<see cref="With"/>) without changing any existing id, or trained with it
/// (<c>lmforge tokenizer train --encoder</c>).
/// </summary>
public static class EncoderTokens
{
    public const string Pad = "[PAD]", Cls = "[CLS]", Sep = "[SEP]", Mask = "[MASK]";

    /// <summary>In the order they take ids.</summary>
    public static IReadOnlyList<string> All { get; } = [Pad, Cls, Sep, Mask];

    /// <summary><paramref name="tokenizer"/> with the tokens it lacks at the next free ids (itself when it has them all).</summary>
    public static BpeTokenizer With(BpeTokenizer tokenizer)
    {
        var added = new Dictionary<string, int>();
        int next = tokenizer.VocabularySize;
        foreach (string token in All.Where(t => !tokenizer.SpecialTokens.ContainsKey(t))) added[token] = next++;
        return tokenizer.WithSpecialTokens(added);
    }
}
