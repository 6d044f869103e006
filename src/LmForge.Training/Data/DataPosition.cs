namespace LmForge.Training.Data;

/// <summary>Where a <see cref="TokenBatchLoader"/> is: the pass over the data, the shard within that pass's order, the batch within that shard.</summary>
public readonly record struct DataPosition(int Epoch, int Shard, int Batch)
{
    /// <summary>
    /// The random stream an objective draws row <paramref name="row"/> of the batch at this position from (the masks of
    /// <see cref="MaskedBatchLoader"/>, the spans of <see cref="SpanBatchLoader"/>): a function of the position alone, so
    /// a window served again in a later epoch is corrupted afresh and a resumed run corrupts as the uninterrupted one.
    /// </summary>
    public ulong RowStream(int row) =>
        CounterRandom.Derive((ulong)Epoch, ((ulong)Shard << 32) | (uint)Batch).NextUInt64() + (ulong)row;
}
