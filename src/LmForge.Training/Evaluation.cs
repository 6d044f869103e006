using LmForge.Training.Data;

namespace LmForge.Training;

/// <summary>The mean loss of a model over token shards, in file order, at the model's context length.</summary>
public sealed record Evaluation(double MeanLoss, long Tokens, int Batches)
{
    public static Evaluation Run(ITrainableModel model, IReadOnlyList<string> shards, int batchSize, int maxBatches = 0)
    {
        // throws, naming the shard, on a token outside the model's vocabulary
        using var loader = new TokenBatchLoader(shards, batchSize, model.ContextLength, model.VocabularySize, seed: 0, shuffle: false);
        return Run(model, loader, maxBatches);
    }

    /// <summary>
    /// The mean loss over the first <paramref name="maxBatches"/> batches (0: one whole pass) of a batch source from its
    /// start: B×T inputs and B×<see cref="IBatchSource.TargetLength"/> targets (a masked or span-corrupted source
    /// evaluates an encoder or an encoder-decoder on its own objective).
    /// </summary>
    public static Evaluation Run(ITrainableModel model, IBatchSource batches, int maxBatches = 0)
    {
        batches.Reset();
        int b = batches.BatchSize, t = batches.SequenceLength;
        long available = batches.BatchesPerEpoch;
        int count = (int)(maxBatches > 0 ? Math.Min(maxBatches, available) : available);
        var inputs = new int[b * t];
        var targets = new int[b * batches.TargetLength];
        var documentStarts = new int[b * t];
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            bool packed = batches.Next(inputs, targets, documentStarts);
            sum += model.Loss(inputs, targets, b, t, packed ? documentStarts : default);
        }
        return new Evaluation(sum / count, (long)count * b * t, count);
    }
}
