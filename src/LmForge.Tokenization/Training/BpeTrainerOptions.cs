namespace LmForge.Tokenization.Training;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
public sealed class BpeTrainerOptions
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImSep = "<|im_sep|>";
    public const string ImEnd = "<|im_end|>";

    /// <summary>The chat markers, in the order their ids are given after <see cref="EndOfText"/>.</summary>
    public static readonly IReadOnlyList<string> ChatSpecialTokens = [ImStart, ImSep, ImEnd];

    /// <summary>
    /// Total vocabulary size, special tokens included: 256 byte tokens + (VocabSize − 256 − specials) merged
    /// tokens, then the special tokens (e.g. 50257 = 256 + 50000 + 1 for GPT-2's layout).
    /// </summary>
    public int VocabSize { get; init; } = 32768;

    /// <summary>The pre-tokenizer (default: GPT-4's cl100k pattern; any regex via <see cref="SplitPattern.FromRegex"/>).</summary>
    public SplitPattern Pattern { get; init; } = SplitPattern.Cl100k;

    /// <summary>Special tokens, given ids after the merged tokens in this order. Default: <c>&lt;|endoftext|&gt;</c>.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [EndOfText];

    /// <summary>Threads used to pre-tokenize (default: one per core).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Bytes per chunk handed to a pre-tokenizing thread.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Receives progress: per chunk while counting, every 64 merges while merging, and once when done.</summary>
    public IProgress<BpeTrainingProgress>? Progress { get; init; }
}
