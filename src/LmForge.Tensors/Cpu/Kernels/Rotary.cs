using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Rotary position embedding (RoPE) in place, in Hugging Face's rotate-half convention: channel i of a head pairs
/// with channel i + hs/2 (not with its neighbour, as in the original paper's interleaved layout).
/// </summary>
internal static unsafe class Rotary
{
    /// <summary>Largest head size: the kernel keeps hs/2 inverse frequencies and a row's cos/sin on the stack.</summary>
    public const int MaxHeadSize = 2048;

    // x is (N,W), positions is (N); head h < headCount is x[n, column + h·hs, +hs). For i < hs/2,
    // invFreq_i = 1/theta^(2i/hs) and angle = positions[n]·invFreq_i, in float32 as transformers computes them:
    // (x_i, x_{i+hs/2}) ← (x_i·cos − x_{i+hs/2}·sin, x_{i+hs/2}·cos + x_i·sin)
    public static void Forward(WorkerPool pool, float* x, int* positions, int rows, int width, int column, int headCount, int headSize, float theta) =>
        Rotate(pool, x, positions, rows, width, column, headCount, headSize, theta, sinSign: 1f);

    // dx is (N,W), rotated in place by −angle: the transpose of the forward's rotation, which is its inverse.
    public static void Backward(WorkerPool pool, float* dx, int* positions, int rows, int width, int column, int headCount, int headSize, float theta) =>
        Rotate(pool, dx, positions, rows, width, column, headCount, headSize, theta, sinSign: -1f);

    private static void Rotate(WorkerPool pool, float* x, int* positions, int rows, int width, int column, int headCount, int headSize, float theta,
        float sinSign)
    {
        int half = headSize / 2;
        float* invFreq = stackalloc float[half]; // read by the workers while this frame waits in Run
        for (int i = 0; i < half; i++) invFreq[i] = 1f / MathF.Pow(theta, (float)(2 * i) / headSize);
        var op = new RotateRows
        {
            X = x, Positions = positions, InvFreq = invFreq, Width = width, Column = column, HeadCount = headCount, HeadSize = headSize,
            SinSign = sinSign,
        };
        pool.Run(rows, Math.Max(1, 8192 / (headCount * headSize)), ref op);
    }

    private struct RotateRows : IRangeOperation
    {
        public float* X, InvFreq;
        public int* Positions;
        public int Width, Column, HeadCount, HeadSize;
        public float SinSign;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int half = HeadSize / 2;
            float* cos = stackalloc float[half];
            float* sin = stackalloc float[half];
            for (int row = start; row < end; row++)
            {
                // one cos/sin table per row, shared by all of its heads
                float position = Positions[row];
                for (int i = 0; i < half; i++)
                {
                    (float s, float c) = MathF.SinCos(position * InvFreq[i]);
                    cos[i] = c;
                    sin[i] = s * SinSign;
                }
                float* head = X + ((long)row * Width) + Column;
                for (int h = 0; h < HeadCount; h++, head += HeadSize) RotateHead(head, head + half, cos, sin, half);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RotateHead(float* x1, float* x2, float* cos, float* sin, int half)
        {
            int i = 0;
            if (VectorMath.IsAccelerated)
            {
                for (; i <= half - 8; i += 8)
                {
                    var a = Vector256.Load(x1 + i);
                    var b = Vector256.Load(x2 + i);
                    var c = Vector256.Load(cos + i);
                    var s = Vector256.Load(sin + i);
                    Vector256.Store((a * c) - (b * s), x1 + i);
                    Vector256.Store((b * c) + (a * s), x2 + i);
                }
            }
            for (; i < half; i++)
            {
                float a = x1[i], b = x2[i];
                x1[i] = (a * cos[i]) - (b * sin[i]);
                x2[i] = (b * cos[i]) + (a * sin[i]);
            }
        }
    }
}
