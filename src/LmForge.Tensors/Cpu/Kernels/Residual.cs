using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Residual connection (backward is the identity to both inputs, so there is no backward kernel), and scaling by a constant.</summary>
internal static unsafe class Residual
{
    // out, a, b are (N)
    public static void Forward(WorkerPool pool, float* output, float* a, float* b, long length)
    {
        var op = new Chunks { Output = output, A = a, B = b, Length = length };
        pool.Run((int)((length + ChunkSize - 1) / ChunkSize), 4, ref op);
    }

    // out = input · factor, both (N); out may be input
    public static void Scale(WorkerPool pool, float* output, float* input, float factor, long length)
    {
        var op = new ScaleChunks { Output = output, Input = input, Factor = factor, Length = length };
        pool.Run((int)((length + ChunkSize - 1) / ChunkSize), 4, ref op);
    }

    private const int ChunkSize = 8192;

    private struct ScaleChunks : IRangeOperation
    {
        public float* Output, Input;
        public float Factor;
        public long Length;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            if (VectorMath.IsAccelerated)
            {
                var factor = Vector256.Create(Factor);
                for (; i <= stop - 8; i += 8) Vector256.Store(Vector256.Load(Input + i) * factor, Output + i);
            }
            for (; i < stop; i++) Output[i] = Input[i] * Factor;
        }
    }

    private struct Chunks : IRangeOperation
    {
        public float* Output, A, B;
        public long Length;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            if (VectorMath.IsAccelerated)
            {
                for (; i <= stop - 8; i += 8) Vector256.Store(Vector256.Load(A + i) + Vector256.Load(B + i), Output + i);
            }
            for (; i < stop; i++) Output[i] = A[i] + B[i];
        }
    }
}
