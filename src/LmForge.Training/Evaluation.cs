using LmForge.Training.Data;

namespace LmForge.Training;

/// <summary>The mean loss of a model over token shards, in file order, at the model's context length.</summary>
public sealed record Evaluation(double MeanLoss, long Tokens, int Batches)
{
    public static Evaluation Run(ITrainableModel model, IReadOnlyList<string> shards, int batchSize, int maxBatches = 0)
    {
        int t = model.ContextLength;
        using var loader = new TokenBatchLoader(shards, batchSize, t, model.VocabularySize, seed: 0, shuffle: false);
        long available = loader.BatchesPerEpoch;
        int batches = (int)(maxBatches > 0 ? Math.Min(maxBatches, available) : available);
        var inputs = new int[batchSize * t];
        var targets = new int[batchSize * t];
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            loader.Next(inputs, targets); // throws, naming the shard, on a token outside the model's vocabulary
            sum += model.Loss(inputs, targets, batchSize, t);
        }
        return new Evaluation(sum / batches, (long)batches * batchSize * t, batches);
    }
}
