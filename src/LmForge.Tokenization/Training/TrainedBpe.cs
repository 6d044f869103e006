namespace LmForge.Tokenization.Training;

/// <summary>
/// The result of <see cref="BpeTrainer"/>: token byte strings in rank order (id = rank; ids 0–255 are the single
/// bytes 0–255, then merged tokens in the order they were learned), the merges that made them, the split
/// pattern and the special tokens (ids after the last merged token).
/// </summary>
public sealed class TrainedBpe
{
    internal TrainedBpe(IReadOnlyList<byte[]> tokenBytes, IReadOnlyList<(int Left, int Right, int Merged)> merges,
        SplitPattern splitPattern, IReadOnlyDictionary<string, int> specialTokens, bool ranOutOfPairs)
    {
        TokenBytes = tokenBytes;
        Merges = merges;
        Pattern = splitPattern;
        SpecialTokens = specialTokens;
        RanOutOfPairs = ranOutOfPairs;
    }

    /// <summary>Bytes of each ordinary token; the index is the token id and its merge rank.</summary>
    public IReadOnlyList<byte[]> TokenBytes { get; }

    /// <summary>Every merge in learning order: (left id, right id) → merged id.</summary>
    public IReadOnlyList<(int Left, int Right, int Merged)> Merges { get; }

    public SplitPattern Pattern { get; }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Ordinary tokens plus special tokens.</summary>
    public int VocabSize => TokenBytes.Count + SpecialTokens.Count;

    /// <summary>True when the corpus had no pair left to merge before the requested size was reached.</summary>
    public bool RanOutOfPairs { get; }

    /// <summary>
    /// The tokenizer that encodes with this vocabulary: tiktoken-style ranks (token bytes → id, lowest rank merges
    /// first), the split pattern and the special tokens.
    /// </summary>
    public BpeTokenizer ToTokenizer(string name = "trained") =>
        BpeTokenizer.FromRanks(TokenBytes.Select((bytes, id) => KeyValuePair.Create(bytes, id)), Pattern, SpecialTokens, name);
}
