using LmForge.Data.Recipes;

namespace LmForge.Data.Dedup;

/// <summary>
/// MinHash parameters; the defaults are FineWeb's: word 5-grams, 14 buckets of 8 hashes, 64-bit hashing. A pair of
/// documents with Jaccard similarity s of their 5-gram sets shares at least one bucket with probability
/// 1 - (1 - s^8)^14: 0.92 at s = 0.8, 0.9996 at s = 0.9, 0.05 at s = 0.5.
/// </summary>
public sealed record MinHashConfig
{
    public int NGram { get; init; } = 5;
    public int Buckets { get; init; } = 14;
    public int HashesPerBucket { get; init; } = 8;
    /// <summary>Seed of the hash permutations: every task of one dedup run must use the same.</summary>
    public ulong Seed { get; init; } = 1;

    public int HashCount => Buckets * HashesPerBucket;

    /// <summary>Recipe parameters: n_grams, buckets, hashes_per_bucket, seed (the same in all four stages).</summary>
    public static MinHashConfig From(StepParameters p)
    {
        var d = new MinHashConfig();
        var config = new MinHashConfig
        {
            NGram = p.GetInt("n_grams", d.NGram),
            Buckets = p.GetInt("buckets", d.Buckets),
            HashesPerBucket = p.GetInt("hashes_per_bucket", d.HashesPerBucket),
            Seed = (ulong)p.GetLong("seed", (long)d.Seed),
        };
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new RecipeException($"{p.Location} ({p.Type}): {e.Message}");
        }
        return config;
    }

    public void Validate()
    {
        if (NGram < 1) throw new ArgumentException($"minhash n_gram must be >= 1, got {NGram}");
        if (Buckets < 1 || Buckets > 999) throw new ArgumentException($"minhash buckets must be in 1..999, got {Buckets}");
        if (HashesPerBucket < 1 || HashesPerBucket > 64) throw new ArgumentException($"minhash hashes_per_bucket must be in 1..64, got {HashesPerBucket}");
    }
}
