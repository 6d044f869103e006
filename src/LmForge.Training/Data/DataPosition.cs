namespace LmForge.Training.Data;

/// <summary>Where a <see cref="TokenBatchLoader"/> is: the pass over the data, the shard within that pass's order, the batch within that shard.</summary>
public readonly record struct DataPosition(int Epoch, int Shard, int Batch);
