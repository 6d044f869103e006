using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// A unit of parallel work: processes items [start, end) of a range split across workers. The kernels' Invoke methods
/// are AggressiveOptimization: one called once per training step would otherwise run as unoptimized tier-0 code for its
/// first 30 calls (cross-entropy's vectorized exp 6x slower), which is all of a short run or benchmark.
/// </summary>
public interface IRangeOperation
{
    void Invoke(int start, int end);
}

/// <summary>
/// A persistent pool with one thread per core. Run splits [0, count) into contiguous chunks, one per worker,
/// and returns when all are done. Work smaller than minPerWorker items per worker runs on the caller's thread.
/// </summary>
/// <remarks>
/// The caller is worker 0 and runs the first chunk itself; WorkerCount - 1 long-lived background threads run the
/// others. A job is published by bumping a generation counter: idle workers spin on it briefly, then block on a
/// monitor, so back-to-back calls cost a cache-line handoff and a quiet pool costs no CPU. The operation is a
/// struct passed by reference and invoked through a function pointer: a call allocates nothing. A Run issued while
/// the pool is busy (from inside an operation, or from a second thread) runs serially on its own thread.
/// The first exception thrown by any chunk is rethrown on the caller after every chunk has finished.
/// </remarks>
public sealed unsafe class WorkerPool : IDisposable
{
    // How long an idle worker, or the caller waiting for the last chunk, spins before blocking.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private readonly object _gate = new();
    private Thread[]? _threads;
    private int _busy;
    private bool _disposed;
    private long _generation;
    private int _sleepers;
    private int _callerWaiting;

    // The job being run: written by the caller before the generation bump, read by workers after it.
    private void* _operation;
    private delegate*<void*, int, int, void> _invoke;
    private int _count;
    private int _activeWorkers;
    private int _remaining;
    private ExceptionDispatchInfo? _failure;

    static WorkerPool? _shared;

    /// <summary>The pool every backend uses by default: one worker per core this process may run on, unless <see cref="SetSharedWorkerCount"/> said otherwise first.</summary>
    public static WorkerPool Shared
    {
        get
        {
            if (Volatile.Read(ref _shared) is { } pool) return pool;
            Interlocked.CompareExchange(ref _shared, new WorkerPool(Environment.ProcessorCount), null);
            return _shared;
        }
    }

    /// <summary>
    /// Sizes <see cref="Shared"/> before anything uses it (a data-parallel rank takes its share of the node's cores);
    /// once it exists its size is fixed, and asking for another is an error.
    /// </summary>
    public static void SetSharedWorkerCount(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        if (Interlocked.CompareExchange(ref _shared, new WorkerPool(workers), null) is { } existing && existing.WorkerCount != workers)
            throw new InvalidOperationException($"the shared worker pool already runs {existing.WorkerCount} workers; set its size before the first use");
    }

    public WorkerPool(int workerCount) => WorkerCount = Math.Max(1, workerCount);

    public int WorkerCount { get; }

    public void Run<TOperation>(int count, int minPerWorker, ref TOperation operation)
        where TOperation : struct, IRangeOperation
    {
        if (count <= 0) return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        int workers = (int)Math.Min(WorkerCount, Math.Min(count, (long)count / Math.Max(1, minPerWorker)));
        if (workers <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            operation.Invoke(0, count);
            return;
        }

        // Workers read the operation through a pointer, so it must not move: copy it to this stack frame.
        TOperation local = operation;
        ExceptionDispatchInfo? failure;
        try
        {
            if (_threads == null) StartThreads();
            _operation = Unsafe.AsPointer(ref local);
            _invoke = &InvokeOperation<TOperation>;
            _count = count;
            _activeWorkers = workers;
            _failure = null;
            // Every pool thread acknowledges every job (inactive ones at once), so a job never overlaps the next.
            _remaining = WorkerCount - 1;
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0) WakeWorkers();

            try
            {
                local.Invoke(0, ChunkStart(1, count, workers));
            }
            catch (Exception exception)
            {
                RecordFailure(exception);
            }
            WaitForWorkers();
            operation = local;
            failure = _failure;
        }
        finally
        {
            _operation = null;
            _failure = null;
            Volatile.Write(ref _busy, 0);
        }
        failure?.Throw();
    }

    /// <summary>Stops the pool's threads; a later Run throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Interlocked.Increment(ref _generation);
            WakeWorkers();
        }
    }

    private void WakeWorkers()
    {
        lock (_gate) Monitor.PulseAll(_gate);
    }

    private static int ChunkStart(int worker, int count, int workers) => (int)((long)count * worker / workers);

    private static void InvokeOperation<TOperation>(void* operation, int start, int end)
        where TOperation : struct, IRangeOperation
        => Unsafe.AsRef<TOperation>(operation).Invoke(start, end);

    // Kept out of Run: the closure the thread start captures would otherwise be allocated on every call.
    private void StartThreads()
    {
        lock (_gate)
        {
            if (_threads != null) return;
            // Threads may first run after the caller has published its job: they start from the generation before it.
            long generation = Volatile.Read(ref _generation);
            var threads = new Thread[WorkerCount - 1];

            for (int i = 0; i < threads.Length; i++)
            {
                int worker = i + 1;
                threads[i] = new Thread(() => WorkerLoop(worker, generation))
                {
                    IsBackground = true,
                    Name = $"LmForge worker {worker}",
                };
                threads[i].Start();
            }
            _threads = threads;
        }
    }

    private void WorkerLoop(int worker, long seen)
    {
        while (true)
        {
            seen = WaitForJob(seen);
            if (Volatile.Read(ref _disposed)) return;
            int workers = _activeWorkers;
            if (worker < workers)
            {
                int count = _count;
                try
                {
                    _invoke(_operation, ChunkStart(worker, count, workers), ChunkStart(worker + 1, count, workers));
                }
                catch (Exception exception)
                {
                    RecordFailure(exception);
                }
            }
            if (Interlocked.Decrement(ref _remaining) == 0 && Volatile.Read(ref _callerWaiting) != 0)
            {
                lock (_gate) Monitor.PulseAll(_gate);
            }
        }
    }

    // Spin, then block, until the generation moves past the one already handled; returns the new generation.
    private long WaitForJob(long seen)
    {
        long generation = Volatile.Read(ref _generation);
        if (generation != seen) return generation;
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        do
        {
            Thread.SpinWait(8);
            generation = Volatile.Read(ref _generation);
            if (generation != seen) return generation;
        }
        while (Stopwatch.GetTimestamp() < deadline);

        // The sleeper count is raised before the last check, and the caller bumps the generation before reading
        // it (both full fences), so either this thread sees the new job or the caller sees a sleeper and wakes it.
        Interlocked.Increment(ref _sleepers);
        lock (_gate)
        {
            while ((generation = Volatile.Read(ref _generation)) == seen) Monitor.Wait(_gate);
        }
        Interlocked.Decrement(ref _sleepers);
        return generation;
    }

    private void WaitForWorkers()
    {
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        while (Volatile.Read(ref _remaining) != 0)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                // Same handshake as WaitForJob: the last worker decrements, then looks for a waiting caller.
                Interlocked.Exchange(ref _callerWaiting, 1);
                lock (_gate)
                {
                    while (Volatile.Read(ref _remaining) != 0) Monitor.Wait(_gate);
                }
                Volatile.Write(ref _callerWaiting, 0);
                return;
            }
            Thread.SpinWait(8);
        }
    }

    private void RecordFailure(Exception exception) =>
        Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(exception), null);
}
