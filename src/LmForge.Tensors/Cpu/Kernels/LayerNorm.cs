using System.Runtime.CompilerServices;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Layer normalization over the last dimension, with an optional bias.</summary>
internal static unsafe class LayerNorm
{
    // out is (N,C), mean and rstd are (N), inp is (N,C), weight is (C), bias is (C) or null
    // out = (inp − mean)·rstd·weight + bias, rstd = 1/√(variance + eps)
    public static void Forward(WorkerPool pool, float* output, float* mean, float* rstd, float* input, float* weight, float* bias, int rows, int channels,
        float epsilon)
    {
        var op = new ForwardRows
        {
            Output = output, Mean = mean, Rstd = rstd, Input = input, Weight = weight, Bias = bias, Channels = channels, Epsilon = epsilon,
        };
        pool.Run(rows, Math.Max(1, 8192 / channels), ref op);
    }

    // dinp (N,C) += ..., dweight (C) += Σ_n dout·norm, dbias (C, or null) += Σ_n dout, with norm = (inp − mean)·rstd.
    // dinp = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm)) where dnorm = dout·weight.
    // dinp is split by rows; dweight and dbias by column blocks, so no two workers write the same float.
    public static void Backward(WorkerPool pool, float* dinput, float* dweight, float* dbias, float* doutput, float* input, float* weight,
        float* mean, float* rstd, int rows, int channels)
    {
        var rowsOp = new BackwardRows { Dinput = dinput, Doutput = doutput, Input = input, Weight = weight, Mean = mean, Rstd = rstd, Channels = channels };
        pool.Run(rows, Math.Max(1, 8192 / channels), ref rowsOp);
        var paramsOp = new BackwardParameters
        {
            Dweight = dweight, Dbias = dbias, Doutput = doutput, Input = input, Mean = mean, Rstd = rstd, Rows = rows, Channels = channels,
        };
        pool.Run((channels + ColumnBlock - 1) / ColumnBlock, Math.Max(1, 16384 / Math.Max(1, rows * ColumnBlock)), ref paramsOp);
    }

    private const int ColumnBlock = 32;

    private struct ForwardRows : IRangeOperation
    {
        public float* Output, Mean, Rstd, Input, Weight, Bias;
        public int Channels;
        public float Epsilon;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c = Channels;
            for (int row = start; row < end; row++)
            {
                float* x = Input + (long)row * c;
                float m = VectorMath.Sum(x, c) / c;
                float s = 1f / MathF.Sqrt((NormalizedRows.SquaredDeviations(x, m, c) / c) + Epsilon);
                NormalizedRows.Normalize(x, m, s, Weight, Bias, Output + (long)row * c, c);
                Mean[row] = m;
                Rstd[row] = s;
            }
        }
    }

    private struct BackwardRows : IRangeOperation
    {
        public float* Dinput, Doutput, Input, Weight, Mean, Rstd;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c = Channels;
            for (int row = start; row < end; row++)
            {
                float* x = Input + (long)row * c;
                float* dy = Doutput + (long)row * c;
                float m = Mean[row], s = Rstd[row];
                var (dnorm, dnormNorm) = NormalizedRows.GradientSums(x, dy, Weight, m, s, c);
                NormalizedRows.AddInputGradient(x, dy, Weight, m, s, dnorm / c, dnormNorm / c, Dinput + (long)row * c, c);
            }
        }
    }

    private struct BackwardParameters : IRangeOperation
    {
        public float* Dweight, Dbias, Doutput, Input, Mean, Rstd;
        public int Rows, Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c0 = start * ColumnBlock;
            int c1 = Math.Min(end * ColumnBlock, Channels);
            for (int row = 0; row < Rows; row++)
            {
                float* x = Input + ((long)row * Channels);
                float* dy = Doutput + ((long)row * Channels);
                NormalizedRows.AddWeightGradient(x + c0, dy + c0, Mean[row], Rstd[row], Dweight + c0, c1 - c0);
                if (Dbias != null) VectorMath.AddTo(dy + c0, Dbias + c0, c1 - c0);
            }
        }
    }
}
