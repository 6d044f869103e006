namespace LmForge.Tokenization.Shards;

/// <summary>
/// The llm.c token shard layout: a 1024-byte header of 256 little-endian int32 (magic, version, token count,
/// then zeros), followed by the tokens. llm.c (dev/data/data_common.py) knows two variants, and so do we:
/// <list type="bullet">
/// <item>uint16 tokens: magic 20240520, version 1 (GPT-2 and any vocabulary of at most 65,536 ids);</item>
/// <item>uint32 tokens: magic 20240801, version 7 (llm.c's Llama-3 variant, for larger vocabularies).</item>
/// </list>
/// </summary>
public static class TokenShardFormat
{
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);
    public const int Uint16Magic = 20240520;
    public const int Uint16Version = 1;
    public const int Uint32Magic = 20240801;
    public const int Uint32Version = 7;

    /// <summary>
    /// The file <see cref="CorpusTokenizer"/> keeps beside a set of shards while it writes them,
    /// <c>{prefix}.unfinished</c>: created before the first shard, deleted after the last one is complete. A set
    /// whose marker exists was interrupted (killed, out of disk, bad input) and must not be read as whole.
    /// </summary>
    public static string UnfinishedMarker(string directory, string prefix) => System.IO.Path.Combine(directory, $"{prefix}.unfinished");

    /// <summary>
    /// The unfinished-set marker of the set a shard belongs to when it is named as <see cref="CorpusTokenizer"/>
    /// names them (<c>{prefix}_val_NNNNNN.bin</c>, <c>{prefix}_train_NNNNNN.bin</c>) and that marker exists; else null.
    /// </summary>
    public static string? FindUnfinishedMarker(string shardPath)
    {
        var match = System.Text.RegularExpressions.Regex.Match(System.IO.Path.GetFileName(shardPath), "^(.+)_(val|train)_[0-9]{6,}\\.bin$");
        if (!match.Success) return null;
        string marker = UnfinishedMarker(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(shardPath))!, match.Groups[1].Value);
        return File.Exists(marker) ? marker : null;
    }

    /// <summary>Bytes per token for a vocabulary of <paramref name="vocabSize"/> ids: 2 when every id fits in uint16, else 4.</summary>
    public static int TokenBytesFor(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        return vocabSize <= 65536 ? 2 : 4;
    }
}
