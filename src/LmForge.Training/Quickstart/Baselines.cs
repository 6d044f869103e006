using LmForge.Tokenization.Shards;

namespace LmForge.Training.Quickstart;

/// <summary>The shards the quickstart wrote: training shards (and a pattern matching them) and one validation shard.</summary>
public sealed record ShardSplit(IReadOnlyList<string> TrainShards, string ValidationShard, long TrainTokens, long ValidationTokens, string TrainPattern);

/// <summary>
/// What a model must beat, in nats per token on the validation shards: a uniform guess over the vocabulary (ln V), and
/// a unigram model of the training shards' token frequencies (add-one smoothed), which knows which tokens are common
/// but nothing about context.
/// </summary>
public sealed record Baselines(double Uniform, double Unigram)
{
    public static Baselines Measure(IReadOnlyList<string> trainShards, IReadOnlyList<string> validationShards, int vocabularySize)
    {
        var counts = new long[vocabularySize];
        long total = 0;
        foreach (string shard in trainShards)
        {
            foreach (int token in TokenShardReader.ReadAll(shard)) counts[token]++;
        }
        foreach (long c in counts) total += c;
        double denominator = total + vocabularySize;
        double sum = 0;
        long n = 0;
        foreach (string shard in validationShards)
        {
            foreach (int token in TokenShardReader.ReadAll(shard))
            {
                sum -= Math.Log((counts[token] + 1) / denominator);
                n++;
            }
        }
        return new Baselines(Math.Log(vocabularySize), n == 0 ? double.NaN : sum / n);
    }
}
