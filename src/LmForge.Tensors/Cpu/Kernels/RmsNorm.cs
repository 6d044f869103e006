using System.Runtime.CompilerServices;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>RMS normalization over the last dimension (Llama, T5): no centering, no bias.</summary>
internal static unsafe class RmsNorm
{
    // out is (N,C), rstd is (N), inp is (N,C), weight is (C)
    // out = inp·rstd·weight, rstd = 1/√(mean(inp²) + eps)
    public static void Forward(WorkerPool pool, float* output, float* rstd, float* input, float* weight, int rows, int channels, float epsilon)
    {
        var op = new ForwardRows { Output = output, Rstd = rstd, Input = input, Weight = weight, Channels = channels, Epsilon = epsilon };
        pool.Run(rows, Math.Max(1, 8192 / channels), ref op);
    }

    // dinp (N,C) += rstd·(dnorm − norm·mean(dnorm·norm)) with norm = inp·rstd, dnorm = dout·weight
    // (from ∂rstd/∂inp_j = −rstd³·inp_j/C); dweight (C) += Σ_n dout·norm.
    // dinp is split by rows, dweight by column blocks, so no two workers write the same float.
    public static void Backward(WorkerPool pool, float* dinput, float* dweight, float* doutput, float* input, float* weight, float* rstd, int rows, int channels)
    {
        var rowsOp = new BackwardRows { Dinput = dinput, Doutput = doutput, Input = input, Weight = weight, Rstd = rstd, Channels = channels };
        pool.Run(rows, Math.Max(1, 8192 / channels), ref rowsOp);
        var weightOp = new BackwardWeight { Dweight = dweight, Doutput = doutput, Input = input, Rstd = rstd, Rows = rows, Channels = channels };
        pool.Run((channels + ColumnBlock - 1) / ColumnBlock, Math.Max(1, 16384 / Math.Max(1, rows * ColumnBlock)), ref weightOp);
    }

    private const int ColumnBlock = 32;

    private struct ForwardRows : IRangeOperation
    {
        public float* Output, Rstd, Input, Weight;
        public int Channels;
        public float Epsilon;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c = Channels;
            for (int row = start; row < end; row++)
            {
                float* x = Input + ((long)row * c);
                float s = 1f / MathF.Sqrt((VectorMath.Dot(x, x, c) / c) + Epsilon);
                NormalizedRows.Normalize(x, 0f, s, Weight, null, Output + ((long)row * c), c);
                Rstd[row] = s;
            }
        }
    }

    private struct BackwardRows : IRangeOperation
    {
        public float* Dinput, Doutput, Input, Weight, Rstd;
        public int Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c = Channels;
            for (int row = start; row < end; row++)
            {
                float* x = Input + ((long)row * c);
                float* dy = Doutput + ((long)row * c);
                float s = Rstd[row];
                // no centring: only the dnorm·norm mean enters the gradient
                var (_, dnormNorm) = NormalizedRows.GradientSums(x, dy, Weight, 0f, s, c);
                NormalizedRows.AddInputGradient(x, dy, Weight, 0f, s, 0f, dnormNorm / c, Dinput + ((long)row * c), c);
            }
        }
    }

    private struct BackwardWeight : IRangeOperation
    {
        public float* Dweight, Doutput, Input, Rstd;
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
                NormalizedRows.AddWeightGradient(x + c0, dy + c0, 0f, Rstd[row], Dweight + c0, c1 - c0);
            }
        }
    }
}
