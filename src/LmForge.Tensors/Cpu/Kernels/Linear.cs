using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Fully connected layer on GEMM: out = inp · Wᵀ + b.</summary>
internal static unsafe class Linear
{
    // out is (N,OC), inp is (N,C), weight is (OC,C), bias is (OC) or null; with activated (N,OC) not null, also
    // activated = activation(out), applied by the product's output stage
    public static void Forward(WorkerPool pool, float* output, float* input, float* weight, float* bias, int rows, int inChannels, int outChannels,
        float* activated = null, Activation activation = default) =>
        Gemm.Multiply(pool, GemmPath.Automatic, false, true, rows, outChannels, inChannels, input, inChannels, weight, inChannels, output, outChannels,
            accumulate: false, bias: bias, new GemmEpilogue(activated, activation));

    // dinp (N,C) = dout (N,OC) · weight (OC,C), overwritten
    // dweight (OC,C) += doutᵀ (OC,N) · inp (N,C)
    // dbias (OC) += Σ_n dout[n,:]
    public static void Backward(WorkerPool pool, float* dinput, float* dweight, float* dbias, float* doutput, float* input, float* weight,
        int rows, int inChannels, int outChannels)
    {
        Gemm.Multiply(pool, false, false, rows, inChannels, outChannels, doutput, outChannels, weight, inChannels, dinput, inChannels);
        Gemm.Multiply(pool, true, false, outChannels, inChannels, rows, doutput, outChannels, input, inChannels, dweight, inChannels, accumulate: true);
        if (dbias != null) ColumnSums(pool, dbias, doutput, rows, outChannels);
    }

    // sums (C) += Σ_n x[n,:] for x (N,C); workers own disjoint column blocks, so the result does not depend on their number.
    public static void ColumnSums(WorkerPool pool, float* sums, float* x, int rows, int columns)
    {
        var op = new ColumnSumBlocks { Sums = sums, X = x, Rows = rows, Columns = columns };
        int blocks = (columns + ColumnBlock - 1) / ColumnBlock;
        pool.Run(blocks, Math.Max(1, 32768 / Math.Max(1, rows * ColumnBlock)), ref op);
    }

    private const int ColumnBlock = 64;

    private struct ColumnSumBlocks : IRangeOperation
    {
        public float* Sums, X;
        public int Rows, Columns;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c0 = start * ColumnBlock;
            int c1 = Math.Min(end * ColumnBlock, Columns);
            int c = c0;
            if (VectorMath.IsAccelerated)
            {
                for (; c <= c1 - 8; c += 8)
                {
                    var acc = Vector256<float>.Zero;
                    float* p = X + c;
                    for (int n = 0; n < Rows; n++, p += Columns) acc += Vector256.Load(p);
                    Vector256.Store(Vector256.Load(Sums + c) + acc, Sums + c);
                }
            }
            for (; c < c1; c++)
            {
                float acc = 0f;
                float* p = X + c;
                for (int n = 0; n < Rows; n++, p += Columns) acc += *p;
                Sums[c] += acc;
            }
        }
    }
}
