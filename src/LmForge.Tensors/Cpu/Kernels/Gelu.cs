using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>GPT-2's GELU, tanh approximation: y = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).</summary>
internal static unsafe class Gelu
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    // out, inp are (N)
    public static void Forward(WorkerPool pool, float* output, float* input, long length)
    {
        var op = new ForwardChunks { Output = output, Input = input, Length = length };
        pool.Run((int)((length + ChunkSize - 1) / ChunkSize), 2, ref op);
    }

    // dinp, inp, dout are (N); dinp = dout · y'(inp), overwritten; dinp may alias dout.
    // y' = ½(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
    public static void Backward(WorkerPool pool, float* dinput, float* input, float* doutput, long length)
    {
        var op = new BackwardChunks { Dinput = dinput, Input = input, Doutput = doutput, Length = length };
        pool.Run((int)((length + ChunkSize - 1) / ChunkSize), 2, ref op);
    }

    private const int ChunkSize = 4096;

    // tanh(u) = 1 − 2/(exp(2u) + 1): exp overflowing to +inf gives 1, underflowing to 0 gives −1.
    private static Vector256<float> Tanh(Vector256<float> u) =>
        Vector256<float>.One - (Vector256.Create(2f) / (Vector256.Exp(u + u) + Vector256<float>.One));

    private struct ForwardChunks : IRangeOperation
    {
        public float* Output, Input;
        public long Length;

        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            if (VectorMath.IsAccelerated)
            {
                var k = Vector256.Create(Sqrt2OverPi);
                var kc = Vector256.Create(Sqrt2OverPi * Cubic);
                var half = Vector256.Create(0.5f);
                for (; i <= stop - 8; i += 8)
                {
                    var x = Vector256.Load(Input + i);
                    var u = VectorMath.MultiplyAdd(kc * x * x, x, k * x);
                    Vector256.Store(half * x * (Vector256<float>.One + Tanh(u)), Output + i);
                }
            }
            for (; i < stop; i++)
            {
                float x = Input[i];
                float u = Sqrt2OverPi * (x + (Cubic * x * x * x));
                Output[i] = 0.5f * x * (1f + MathF.Tanh(u));
            }
        }
    }

    private struct BackwardChunks : IRangeOperation
    {
        public float* Dinput, Input, Doutput;
        public long Length;

        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            if (VectorMath.IsAccelerated)
            {
                var k = Vector256.Create(Sqrt2OverPi);
                var kc = Vector256.Create(Sqrt2OverPi * Cubic);
                var k3c = Vector256.Create(3f * Sqrt2OverPi * Cubic);
                var half = Vector256.Create(0.5f);
                var one = Vector256<float>.One;
                for (; i <= stop - 8; i += 8)
                {
                    var x = Vector256.Load(Input + i);
                    var x2 = x * x;
                    var th = Tanh(VectorMath.MultiplyAdd(kc * x2, x, k * x));
                    var du = VectorMath.MultiplyAdd(k3c, x2, k);
                    var grad = half * (one + th + (x * (one - (th * th)) * du));
                    Vector256.Store(grad * Vector256.Load(Doutput + i), Dinput + i);
                }
            }
            for (; i < stop; i++)
            {
                float x = Input[i];
                float th = MathF.Tanh(Sqrt2OverPi * (x + (Cubic * x * x * x)));
                float du = Sqrt2OverPi * (1f + (3f * Cubic * x * x));
                float grad = 0.5f * (1f + th + (x * (1f - (th * th)) * du));
                Dinput[i] = grad * Doutput[i];
            }
        }
    }
}
