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

    /// <summary>Bytes per token for a vocabulary of <paramref name="vocabSize"/> ids: 2 when every id fits in uint16, else 4.</summary>
    public static int TokenBytesFor(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        return vocabSize <= 65536 ? 2 : 4;
    }
}
