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
/// struct passed by reference and invoked through a function pointer: a call allocates nothing. The pool runs one
/// job at a time: a Run from a second thread waits for the pool (spin, then block) and then runs across it, as fast
/// as it would alone; a Run from inside an operation of the same pool (whose workers are all taken) runs serially on
/// its own thread. The first exception thrown by any chunk is rethrown on the caller after every chunk has finished.
/// Dispose waits for a Run in progress to finish before it stops the workers.
/// </remarks>
public sealed unsafe class WorkerPool : IDisposable
{
    // How long an idle worker, or the caller waiting for the last chunk, spins before blocking.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private readonly object _gate = new();
    private Thread[]? _threads;
    private readonly object _queue = new();
    private int _busy;
    private int _queued;   // Runs (and a Dispose) blocked waiting for the pool, under _queue
    private int _handoffs; // of them, those the pool was passed to and that have not woken yet
    private bool _disposed;
    private bool _stopped;
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

    // The pool whose operation this thread is running (its workers always; a caller during its Run), so a Run nested
    // in an operation runs serially instead of waiting for a pool that is waiting for it.
    [ThreadStatic]
    private static WorkerPool? t_inside;

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
        if (workers <= 1 || t_inside == this)
        {
            operation.Invoke(0, count);
            return;
        }
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) WaitForPool();
        if (Volatile.Read(ref _stopped))
        {
            // disposed while this Run waited
            Release();
            throw new ObjectDisposedException(nameof(WorkerPool));
        }

        // Workers read the operation through a pointer, so it must not move: copy it to this stack frame.
        TOperation local = operation;
        ExceptionDispatchInfo? failure;
        var outer = t_inside;
        t_inside = this;
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
            t_inside = outer;
            _operation = null;
            _failure = null;
            Release();
        }
        failure?.Throw();
    }

    /// <summary>
    /// Stops the pool's threads once a Run in progress (and any already waiting for the pool) has finished; a later
    /// Run throws ObjectDisposedException. Not from inside one of the pool's own operations, which it would wait for.
    /// </summary>
    public void Dispose()
    {
        if (t_inside == this) throw new InvalidOperationException("a WorkerPool cannot be disposed from inside one of its own operations");
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        // Holding the pool for good: no job is in flight, and none can be published after this.
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) WaitForPool();
        Volatile.Write(ref _stopped, true);
        Interlocked.Increment(ref _generation);
        WakeWorkers();
        Release(); // a Run that was waiting sees _stopped and throws
    }

    // Spin, then block, until this thread holds the pool: taken when free, or handed over by the Run releasing it.
    // Blocked waiters are handed the pool before it is ever free again, so a thread calling Run in a loop cannot
    // starve another one.
    private void WaitForPool()
    {
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            Thread.SpinWait(8);
            if (Volatile.Read(ref _busy) == 0 && Interlocked.CompareExchange(ref _busy, 1, 0) == 0) return;
        }
        lock (_queue)
        {
            // Raised before the check, and Release clears _busy before reading it (both full fences): either this
            // thread sees the pool free, or the releasing Run sees it queued and wakes it.
            Interlocked.Increment(ref _queued);
            while (true)
            {
                if (_handoffs > 0)
                {
                    _handoffs--;
                    break;
                }
                if (Interlocked.CompareExchange(ref _busy, 1, 0) == 0) break;
                Monitor.Wait(_queue);
            }
            Interlocked.Decrement(ref _queued);
        }
    }

    private void Release()
    {
        if (Volatile.Read(ref _queued) > 0)
        {
            lock (_queue)
            {
                if (_queued > _handoffs)
                {
                    // _busy stays 1: the pool passes straight to a blocked waiter (each one woken takes one handoff)
                    _handoffs++;
                    Monitor.Pulse(_queue);
                    return;
                }
            }
        }
        Interlocked.Exchange(ref _busy, 0);
        if (Volatile.Read(ref _queued) > 0)
        {
            lock (_queue) Monitor.PulseAll(_queue);
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
        t_inside = this;
        while (true)
        {
            seen = WaitForJob(seen);
            if (Volatile.Read(ref _stopped)) return;
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
