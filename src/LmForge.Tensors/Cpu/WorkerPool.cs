namespace LmForge.Tensors.Cpu;

/// <summary>A unit of parallel work: processes items [start, end) of a range split across workers.</summary>
public interface IRangeOperation
{
    void Invoke(int start, int end);
}

/// <summary>
/// A persistent pool with one thread per core. Run splits [0, count) into contiguous chunks, one per worker,
/// and returns when all are done. Work smaller than minPerWorker items per worker runs on the caller's thread.
/// </summary>
public sealed class WorkerPool
{
    public static WorkerPool Shared { get; } = new(Environment.ProcessorCount);

    public WorkerPool(int workerCount) => WorkerCount = Math.Max(1, workerCount);

    public int WorkerCount { get; }

    // PLACEHOLDER contract: the persistent-thread implementation with a cheap barrier replaces this body.
    public void Run<TOperation>(int count, int minPerWorker, ref TOperation operation)
        where TOperation : struct, IRangeOperation
    {
        operation.Invoke(0, count);
    }
}
