namespace LmForge.Tensors;

/// <summary>
/// Where the heads sit in the query and key/value tensors of <see cref="IBackend.AttentionForward"/>, and how scores
/// are formed. Query head h occupies columns [QueryColumn + h·HeadSize, +HeadSize) of a query row; key head g
/// [KeyColumn + g·HeadSize, +HeadSize) and value head g [ValueColumn + g·HeadSize, +HeadSize) of a key/value row.
/// Query head h reads key/value head h / (HeadCount / KeyValueHeadCount): multi-head when the counts are equal,
/// grouped-query when KeyValueHeadCount divides HeadCount, multi-query when it is 1. Causal masks keys after the
/// query, aligned to the last key (see <see cref="IBackend.AttentionForward"/>). Scores are Scale·(q·k) (+ bias).
/// </summary>
public readonly record struct AttentionLayout(int HeadCount, int KeyValueHeadCount, int HeadSize,
    int QueryColumn, int KeyColumn, int ValueColumn, bool Causal, float Scale)
{
    /// <summary>Fused self-attention rows [q (NH·hs) | k (NKV·hs) | v (NKV·hs)], scale 1/√hs (GPT-2: NKV = NH).</summary>
    public static AttentionLayout Fused(int headCount, int keyValueHeadCount, int headSize, bool causal) =>
        new(headCount, keyValueHeadCount, headSize, QueryColumn: 0, KeyColumn: headCount * headSize,
            ValueColumn: (headCount + keyValueHeadCount) * headSize, causal, Scale: 1f / MathF.Sqrt(headSize));

    /// <summary>Row width of the fused tensor: (NH + 2·NKV)·hs.</summary>
    public int FusedWidth => (HeadCount + (2 * KeyValueHeadCount)) * HeadSize;
}
