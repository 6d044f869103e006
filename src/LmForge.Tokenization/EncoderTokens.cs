namespace LmForge.Tokenization;

/// <summary>
/// The special tokens an encoder's objectives need: BERT's [PAD], [CLS], [SEP] and [MASK]. Added to a trained
/// tokenizer on request (<see cref="With"/>; with T5's sentinels too: <see cref="AddTo"/>, <c>lmforge tokenizer
/// add-encoder-tokens</c>) without changing any existing id, or trained with it (<c>lmforge tokenizer train --encoder</c>).
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

    /// <summary>
    /// <paramref name="tokenizer"/> with everything an encoder or an encoder-decoder trains with: the encoder tokens, then
    /// <paramref name="sentinels"/> sentinels (<see cref="SentinelTokens"/>), each it lacks at the next free id.
    /// </summary>
    public static BpeTokenizer WithSentinels(BpeTokenizer tokenizer, int sentinels = SentinelTokens.DefaultCount) =>
        SentinelTokens.With(With(tokenizer), sentinels);

    /// <summary>
    /// Writes <paramref name="outputPath"/>: the tokenizer.json <paramref name="tokenizerPath"/> with the tokens of
    /// <see cref="WithSentinels"/> it lacks in its added_tokens (every existing id and everything else in the file kept).
    /// </summary>
    /// <returns>The tokens added and their ids.</returns>
    /// <exception cref="InvalidDataException">The tokenizer has them all already.</exception>
    /// <exception cref="IOException">The output exists (it is never overwritten).</exception>
    public static IReadOnlyDictionary<string, int> AddTo(string tokenizerPath, string outputPath, int sentinels = SentinelTokens.DefaultCount)
    {
        var tokenizer = HuggingFaceTokenizerFile.Load(tokenizerPath);
        var grown = WithSentinels(tokenizer, sentinels);
        var added = grown.SpecialTokens.Where(s => !tokenizer.SpecialTokens.ContainsKey(s.Key)).OrderBy(s => s.Value).ToDictionary();
        if (added.Count == 0)
            throw new InvalidDataException($"{tokenizerPath}: the tokenizer has the encoder tokens and {sentinels} sentinels already; use it as it is");
        if (File.Exists(outputPath) || Directory.Exists(outputPath))
            throw new IOException($"{outputPath}: already exists; choose a new --out");
        Saving.HuggingFaceTokenizerWriter.WriteWithAddedTokens(tokenizerPath, outputPath, added);
        return added;
    }
}
