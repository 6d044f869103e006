namespace LmForge.Tokenization.Shards;

/// <summary>Settings of <see cref="CorpusTokenizer"/>.</summary>
public sealed class TokenizeOptions
{
    /// <summary>Tokens per training shard (the last one may be shorter). Default 100M, llm.c's shard size.</summary>
    public long ShardTokens { get; init; } = 100_000_000;

    /// <summary>
    /// Tokens of the validation shard, taken from the start of the corpus (llm.c's fineweb.py puts its first
    /// shard in validation the same way). Default: <see cref="ShardTokens"/>. 0 writes no validation shard.
    /// </summary>
    public long? ValidationTokens { get; init; }

    /// <summary>File name prefix: shards are <c>{prefix}_val_000000.bin</c>, <c>{prefix}_train_000001.bin</c>, ...</summary>
    public string Prefix { get; init; } = "corpus";

    /// <summary>Threads that encode (default: one per core). The output does not depend on it.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Bytes of input per unit of parallel work.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>The special token written before every document.</summary>
    public string DocumentSeparator { get; init; } = "<|endoftext|>";

    public IProgress<TokenizeProgress>? Progress { get; init; }

    /// <summary>
    /// Receives one line per notable action, such as removing the shards of an earlier run; a line that starts with
    /// "warning: " says the output is probably not what was wanted (e.g. no training shard).
    /// </summary>
    public Action<string>? Log { get; init; }
}

/// <summary>Progress of <see cref="CorpusTokenizer"/>: on-disk bytes read of the total, tokens and shards written.</summary>
public readonly record struct TokenizeProgress(long BytesRead, long TotalBytes, long Documents, long Tokens, int ShardsWritten);

/// <summary>What <see cref="CorpusTokenizer"/> wrote.</summary>
public sealed record TokenizeResult(IReadOnlyList<string> Shards, long Documents, long Tokens, long BytesRead);
