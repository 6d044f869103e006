using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using LmForge.Tensors.Cpu;

namespace LmForge.Bench;

/// <summary>
/// This machine's memory read bandwidth, measured the way decoding reads weights: every core streams its share of a
/// 1 GiB array (far beyond the caches) once per pass, summing it with vector loads; the best of a few passes counts.
/// </summary>
internal static unsafe class MemoryBandwidth
{
    public static double MeasureReadGigabytesPerSecond(long bytes = 1L << 30, int passes = 5)
    {
        long count = bytes / sizeof(float);
        float* data = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<float>(data, (int)Math.Min(count, int.MaxValue)).Fill(1f);
            int workers = WorkerPool.Shared.WorkerCount;
            var sums = new float[workers];
            double best = 0;
            for (int pass = 0; pass < passes; pass++)
            {
                long start = Stopwatch.GetTimestamp();
                Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
                {
                    long from = count * w / workers, to = count * (w + 1) / workers;
                    var acc0 = Vector<float>.Zero;
                    var acc1 = Vector<float>.Zero;
                    int width = Vector<float>.Count;
                    long i = from;
                    for (; i + (2 * width) <= to; i += 2 * width)
                    {
                        acc0 += *(Vector<float>*)(data + i);
                        acc1 += *(Vector<float>*)(data + i + width);
                    }
                    float sum = Vector.Sum(acc0 + acc1);
                    for (; i < to; i++) sum += data[i];
                    sums[w] = sum;
                });
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                best = Math.Max(best, bytes / seconds / 1e9);
            }
            if (sums.Sum() <= 0) throw new InvalidOperationException("the bandwidth pass read nothing");
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(data);
        }
    }
}
