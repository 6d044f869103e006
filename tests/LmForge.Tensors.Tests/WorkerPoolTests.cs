using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

public sealed unsafe class WorkerPoolTests
{
    [Fact]
    public void SetSharedWorkerCount_OnceTheSharedPoolExists_AcceptsItsSizeAndRefusesAnother()
    {
        int workers = WorkerPool.Shared.WorkerCount;
        WorkerPool.SetSharedWorkerCount(workers);
        var error = Assert.Throws<InvalidOperationException>(() => WorkerPool.SetSharedWorkerCount(workers + 1));
        Assert.Contains($"already runs {workers} workers", error.Message);
        Assert.Same(WorkerPool.Shared, WorkerPool.Shared);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Run_ManyRuns_ProcessEveryIndexExactlyOnce(int workerCount)
    {
        using var pool = new WorkerPool(workerCount);
        var random = new Random(20230828);
        var hits = new int[1000];
        fixed (int* counts = hits)
        {
            for (int run = 0; run < 2000; run++)
            {
                int count = random.Next(1, hits.Length + 1);
                var operation = new CountingOperation { Counts = counts };
                pool.Run(count, random.Next(1, 8), ref operation);
                for (int i = 0; i < count; i++)
                {
                    if (counts[i] != 1) Assert.Fail($"run {run}, count {count}: index {i} processed {counts[i]} times");
                    counts[i] = 0;
                }
                for (int i = count; i < hits.Length; i++) Assert.Equal(0, counts[i]);
            }
        }
    }

    [Fact]
    public void Run_LargeRange_SplitsIntoOneContiguousChunkPerWorkerOnDistinctThreads()
    {
        using var pool = new WorkerPool(3);
        var chunks = new ConcurrentBag<(int Start, int End, int Thread)>();
        var operation = new RecordingOperation { Chunks = chunks };
        pool.Run(90, 1, ref operation);
        var sorted = chunks.OrderBy(chunk => chunk.Start).ToArray();
        Assert.Equal([(0, 30), (30, 60), (60, 90)], sorted.Select(chunk => (chunk.Start, chunk.End)));
        Assert.Equal(3, sorted.Select(chunk => chunk.Thread).Distinct().Count());
        Assert.Equal(Environment.CurrentManagedThreadId, sorted[0].Thread);
    }

    [Fact]
    public void Run_LessThanMinPerWorkerEach_RunsOnceOnCallerThread()
    {
        using var pool = new WorkerPool(4);
        var chunks = new ConcurrentBag<(int Start, int End, int Thread)>();
        var operation = new RecordingOperation { Chunks = chunks };
        pool.Run(10, 6, ref operation);
        Assert.Equal([(0, 10, Environment.CurrentManagedThreadId)], chunks);
    }

    [Fact]
    public void Run_FromInsideAnOperation_RunsTheInnerRangeSerially()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[64 * 64];
        fixed (int* counts = hits)
        {
            var operation = new NestedOperation { Pool = pool, Counts = counts, Width = 64 };
            pool.Run(64, 1, ref operation);
        }
        Assert.All(hits, hit => Assert.Equal(1, hit));
    }

    [Fact]
    public void Run_FromTwoThreadsAtOnce_BothComplete()
    {
        using var pool = new WorkerPool(2);
        var first = new int[5000];
        var second = new int[5000];
        void Work(int[] hits)
        {
            fixed (int* counts = hits)
            {
                for (int run = 0; run < 200; run++)
                {
                    var operation = new CountingOperation { Counts = counts };
                    pool.Run(hits.Length, 1, ref operation);
                }
            }
        }
        Parallel.Invoke(() => Work(first), () => Work(second));
        Assert.All(first, hit => Assert.Equal(200, hit));
        Assert.All(second, hit => Assert.Equal(200, hit));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(75)]
    public void Run_ChunkThrows_RethrowsOnCallerAndPoolStaysUsable(int failingIndex)
    {
        using var pool = new WorkerPool(2);
        var throwing = new ThrowingOperation { FailingIndex = failingIndex };
        var exception = Assert.Throws<InvalidOperationException>(() => pool.Run(100, 1, ref throwing));
        Assert.Equal($"index {failingIndex} failed", exception.Message);

        var hits = new int[100];
        fixed (int* counts = hits)
        {
            var operation = new CountingOperation { Counts = counts };
            pool.Run(hits.Length, 1, ref operation);
        }
        Assert.All(hits, hit => Assert.Equal(1, hit));
    }

    [Fact]
    public void Run_AfterWarmUp_AllocatesNothing()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[256];
        void Run(int times)
        {
            fixed (int* counts = hits)
            {
                var operation = new CountingOperation { Counts = counts };
                for (int run = 0; run < times; run++) pool.Run(hits.Length, 1, ref operation);
            }
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(() => Run(3000), () => Run(1000)));
        Assert.All(hits, hit => Assert.Equal(4000, hit));
    }

    [Fact]
    public void Run_AfterDispose_Throws()
    {
        var pool = new WorkerPool(2);
        pool.Dispose();
        var operation = new CountingOperation();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(10, 1, ref operation));
    }

    [Fact]
    public void Run_FromASecondThreadWhileTheFirstRuns_WaitsForThePoolAndRunsAcrossIt()
    {
        using var pool = new WorkerPool(2);
        using var started = new ManualResetEventSlim();
        var done = new StrongBox<bool>();
        var first = new BlockingOperation { Started = started, Hold = TimeSpan.FromMilliseconds(300), Done = done };
        var firstRun = new Thread(() => pool.Run(2, 1, ref first));
        firstRun.Start();
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        var chunks = new ConcurrentBag<(int Start, int End, int Thread)>();
        var second = new RecordingOperation { Chunks = chunks };
        pool.Run(100, 1, ref second); // issued while the first holds the pool
        Assert.True(Volatile.Read(ref done.Value), "the second Run returned before the first one's work finished");
        Assert.Equal([(0, 50), (50, 100)], chunks.Select(c => (c.Start, c.End)).Order());
        Assert.Equal(2, chunks.Select(c => c.Thread).Distinct().Count()); // across the pool, not serially on one thread
        firstRun.Join();
    }

    [Fact]
    public void Run_InALoopOnOneThread_DoesNotStarveASecondThread()
    {
        using var pool = new WorkerPool(2);
        int stop = 0;
        var looping = new Thread(() =>
        {
            var hits = new int[64];
            fixed (int* counts = hits)
            {
                var operation = new CountingOperation { Counts = counts };
                while (Volatile.Read(ref stop) == 0) pool.Run(hits.Length, 1, ref operation);
            }
        }) { IsBackground = true };
        looping.Start();
        var second = new Thread(() =>
        {
            var hits = new int[64];
            fixed (int* counts = hits)
            {
                var operation = new CountingOperation { Counts = counts };
                for (int run = 0; run < 200; run++) pool.Run(hits.Length, 1, ref operation);
            }
        }) { IsBackground = true };
        second.Start();
        bool finished = second.Join(TimeSpan.FromSeconds(20));
        Volatile.Write(ref stop, 1);
        Assert.True(finished, "the second thread's 200 Runs did not get the pool in 20 s while another thread ran in a loop");
        Assert.True(looping.Join(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Dispose_DuringARun_LetsTheRunFinish()
    {
        for (int trial = 0; trial < 20; trial++)
        {
            // the first Run starts the pool's threads: with many more of them than cores, some start after Dispose
            var pool = new WorkerPool(32);
            var hits = new int[32];
            using var started = new ManualResetEventSlim();
            var run = new Thread(() =>
            {
                fixed (int* counts = hits)
                {
                    var operation = new BlockingOperation { Started = started, Hold = TimeSpan.Zero, Counts = counts };
                    pool.Run(32, 1, ref operation);
                }
            }) { IsBackground = true };
            run.Start();
            Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
            pool.Dispose(); // at once, while workers are still starting
            Assert.True(run.Join(TimeSpan.FromSeconds(10)), $"trial {trial}: the Run hung after Dispose");
            Assert.All(hits, hit => Assert.Equal(1, hit));
            var after = new CountingOperation();
            Assert.Throws<ObjectDisposedException>(() => pool.Run(32, 1, ref after));
        }
    }

    [Fact]
    public void Dispose_FromInsideAnOperation_Throws()
    {
        using var pool = new WorkerPool(2);
        var operation = new DisposingOperation { Pool = pool };
        Assert.Equal("a WorkerPool cannot be disposed from inside one of its own operations",
            Assert.Throws<InvalidOperationException>(() => pool.Run(2, 1, ref operation)).Message);
    }

    // Chunk 0 (the caller's) says it started and holds the pool a while; every index is counted when Counts is set.
    private struct BlockingOperation : IRangeOperation
    {
        public ManualResetEventSlim Started;
        public TimeSpan Hold;
        public int* Counts;
        public StrongBox<bool>? Done;

        public readonly void Invoke(int start, int end)
        {
            if (start == 0)
            {
                Started.Set();
                Thread.Sleep(Hold);
                if (Done is not null) Volatile.Write(ref Done.Value, true);
            }
            if (Counts == null) return;
            for (int i = start; i < end; i++) Interlocked.Increment(ref Counts[i]);
        }
    }

    private struct DisposingOperation : IRangeOperation
    {
        public WorkerPool Pool;

        public readonly void Invoke(int start, int end)
        {
            if (start == 0) Pool.Dispose();
        }
    }

    private struct CountingOperation : IRangeOperation
    {
        public int* Counts;

        public readonly void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref Counts[i]);
        }
    }

    private struct RecordingOperation : IRangeOperation
    {
        public ConcurrentBag<(int Start, int End, int Thread)> Chunks;

        public readonly void Invoke(int start, int end) => Chunks.Add((start, end, Environment.CurrentManagedThreadId));
    }

    private struct NestedOperation : IRangeOperation
    {
        public WorkerPool Pool;
        public int* Counts;
        public int Width;

        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                var inner = new CountingOperation { Counts = Counts + row * Width };
                Pool.Run(Width, 1, ref inner);
            }
        }
    }

    private struct ThrowingOperation : IRangeOperation
    {
        public int FailingIndex;

        public readonly void Invoke(int start, int end)
        {
            if (FailingIndex >= start && FailingIndex < end)
            {
                throw new InvalidOperationException($"index {FailingIndex} failed");
            }
        }
    }
}
