using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Σ x², for the global gradient norm. Fixed blocks summed in a fixed order: the result does not depend on the worker count.</summary>
internal static unsafe class SumOfSquares
{
    private const int MaxBlocks = 256;
    private const int MinBlockLength = 16384;

    // x is (N)
    public static double Compute(WorkerPool pool, float* x, long length)
    {
        if (length == 0) return 0;
        int blocks = (int)Math.Min(MaxBlocks, (length + MinBlockLength - 1) / MinBlockLength);
        double* partials = stackalloc double[blocks];
        var op = new Blocks { X = x, Length = length, BlockLength = (length + blocks - 1) / blocks, Partials = partials };
        pool.Run(blocks, 1, ref op);
        double total = 0;
        for (int i = 0; i < blocks; i++) total += partials[i];
        return total;
    }

    private struct Blocks : IRangeOperation
    {
        public float* X;
        public long Length, BlockLength;
        public double* Partials;

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
                            acc = VectorMath.MultiplyAdd(v, v, acc);
                        }
                        sum = Vector256.Sum(acc);
                    }
                    for (; i < chunkEnd; i++) sum += X[i] * X[i];
                    total += sum;
                }
                Partials[block] = total;
            }
        }
    }
}
