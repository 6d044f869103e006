namespace LmForge.Training.Data;

/// <summary>What a checkpoint records of one training shard (file name and token count) to check that a resumed run reads the same data.</summary>
public sealed record TokenShardFingerprint(string Name, long Tokens)
{
    public override string ToString() => $"{Name} ({Tokens} tokens)";

    /// <summary>Null when <paramref name="now"/> matches <paramref name="saved"/>, else what differs, in words.</summary>
    public static string? Difference(IReadOnlyList<TokenShardFingerprint> saved, IReadOnlyList<TokenShardFingerprint> now)
    {
        for (int i = 0; i < Math.Min(saved.Count, now.Count); i++)
        {
            if (saved[i] != now[i]) return $"training shard {i + 1} is {now[i]}, was {saved[i]}";
        }
        return saved.Count == now.Count ? null : $"{now.Count} training shards, was {saved.Count}";
    }
}
