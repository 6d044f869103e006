using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Whole-buffer passes: Σ x and Σ x² (the mean loss, the global gradient norm) and zeroing. Sums run over fixed
/// blocks added in a fixed order, so the result does not depend on the number of workers.
/// </summary>
internal static unsafe class Reduction
{
    private const int MaxBlocks = 256;
    private const int MinBlockLength = 16384;
    private const int ClearChunk = 1 << 18;

    // x is (N); returns Σ x or Σ x²
    public static double Sum(WorkerPool pool, float* x, long length, bool squares)
    {
        if (length == 0) return 0;
        int blocks = (int)Math.Min(MaxBlocks, (length + MinBlockLength - 1) / MinBlockLength);
        double* partials = stackalloc double[blocks];
        var op = new SumBlocks { X = x, Length = length, BlockLength = (length + blocks - 1) / blocks, Partials = partials, Squares = squares };
        pool.Run(blocks, 1, ref op);
        double total = 0;
        for (int i = 0; i < blocks; i++) total += partials[i];
        return total;
    }

    // x is (N), set to 0
    public static void Clear(WorkerPool pool, float* x, long length)
    {
        var op = new ClearChunks { X = x, Length = length };
        pool.Run((int)((length + ClearChunk - 1) / ClearChunk), 4, ref op);
    }

    private struct ClearChunks : IRangeOperation
    {
        public float* X;
        public long Length;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long begin = (long)start * ClearChunk;
            long stop = Math.Min((long)end * ClearChunk, Length);
            NativeMemory.Clear(X + begin, (nuint)(stop - begin) * sizeof(float));
        }
    }

    private struct SumBlocks : IRangeOperation
    {
        public float* X;
        public long Length, BlockLength;
        public double* Partials;
        public bool Squares;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            for (int block = start; block < end; block++)
            {
                long i = block * BlockLength;
                long stop = Math.Min(i + BlockLength, Length);
                double total = 0;
                // float accumulators over at most 1024 elements, then into double, to bound rounding error
                while (i < stop)
                {
                    long chunkEnd = Math.Min(i + 1024, stop);
                    float sum = 0f;
                    if (VectorMath.IsAccelerated)
                    {
                        var acc = Vector256<float>.Zero;
                        for (; i <= chunkEnd - 8; i += 8)
                        {
                            var v = Vector256.Load(X + i);
                            acc = Squares ? VectorMath.MultiplyAdd(v, v, acc) : acc + v;
                        }
                        sum = Vector256.Sum(acc);
                    }
                    for (; i < chunkEnd; i++) sum += Squares ? X[i] * X[i] : X[i];
                    total += sum;
                }
                Partials[block] = total;
            }
        }
    }
}
