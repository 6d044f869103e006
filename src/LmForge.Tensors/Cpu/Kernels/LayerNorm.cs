using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
                float* y = Output + (long)row * c;
                float m = VectorMath.Sum(x, c) / c;
                float variance = 0f;
                int i = 0;
                if (VectorMath.IsAccelerated && c >= 8)
                {
                    var vm = Vector256.Create(m);
                    var acc = Vector256<float>.Zero;
                    for (; i <= c - 8; i += 8)
                    {
                        var d = Vector256.Load(x + i) - vm;
                        acc = VectorMath.MultiplyAdd(d, d, acc);
                    }
                    variance = Vector256.Sum(acc);
                }
                for (; i < c; i++) variance += (x[i] - m) * (x[i] - m);
                float s = 1f / MathF.Sqrt((variance / c) + Epsilon);
                if (Bias != null) NormalizeWithBias(x, y, m, s, Weight, Bias, c);
                else Normalize(x, y, m, s, Weight, c);
                Mean[row] = m;
                Rstd[row] = s;
            }
        }

        // y = (x − m)·s·w + b
        private static void NormalizeWithBias(float* x, float* y, float m, float s, float* w, float* b, int c)
        {
            int i = 0;
            if (VectorMath.IsAccelerated)
            {
                var vm = Vector256.Create(m);
                var vs = Vector256.Create(s);
                for (; i <= c - 8; i += 8)
                {
                    var norm = (Vector256.Load(x + i) - vm) * vs;
                    Vector256.Store(VectorMath.MultiplyAdd(norm, Vector256.Load(w + i), Vector256.Load(b + i)), y + i);
                }
            }
            for (; i < c; i++) y[i] = ((x[i] - m) * s * w[i]) + b[i];
        }

        // y = (x − m)·s·w
        private static void Normalize(float* x, float* y, float m, float s, float* w, int c)
        {
            int i = 0;
            if (VectorMath.IsAccelerated)
            {
                var vm = Vector256.Create(m);
                var vs = Vector256.Create(s);
                for (; i <= c - 8; i += 8) Vector256.Store((Vector256.Load(x + i) - vm) * vs * Vector256.Load(w + i), y + i);
            }
            for (; i < c; i++) y[i] = (x[i] - m) * s * w[i];
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
                float* dx = Dinput + (long)row * c;
                float m = Mean[row], s = Rstd[row];
                float dnormMean = 0f, dnormNormMean = 0f;
                int i = 0;
                if (VectorMath.IsAccelerated && c >= 8)
                {
                    var vm = Vector256.Create(m);
                    var sumDnorm = Vector256<float>.Zero;
                    var sumDnormCentered = Vector256<float>.Zero;
                    for (; i <= c - 8; i += 8)
                    {
                        var dnorm = Vector256.Load(Weight + i) * Vector256.Load(dy + i);
                        sumDnorm += dnorm;
                        sumDnormCentered = VectorMath.MultiplyAdd(dnorm, Vector256.Load(x + i) - vm, sumDnormCentered);
                    }
                    dnormMean = Vector256.Sum(sumDnorm);
                    dnormNormMean = Vector256.Sum(sumDnormCentered) * s;
                }
                for (; i < c; i++)
                {
                    float dnorm = Weight[i] * dy[i];
                    dnormMean += dnorm;
                    dnormNormMean += dnorm * (x[i] - m) * s;
                }
                dnormMean /= c;
                dnormNormMean /= c;
                int j = 0;
                if (VectorMath.IsAccelerated)
                {
                    var vm = Vector256.Create(m);
                    var vs = Vector256.Create(s);
                    var vdm = Vector256.Create(dnormMean);
                    var vdnm = Vector256.Create(dnormNormMean);
                    for (; j <= c - 8; j += 8)
                    {
                        var norm = (Vector256.Load(x + j) - vm) * vs;
                        var dnorm = Vector256.Load(Weight + j) * Vector256.Load(dy + j);
                        var grad = (dnorm - vdm - (norm * vdnm)) * vs;
                        Vector256.Store(Vector256.Load(dx + j) + grad, dx + j);
                    }
                }
                for (; j < c; j++)
                {
                    float norm = (x[j] - m) * s;
                    dx[j] += ((Weight[j] * dy[j]) - dnormMean - (norm * dnormNormMean)) * s;
                }
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
                float m = Mean[row], s = Rstd[row];
                int i = c0;
                if (VectorMath.IsAccelerated)
                {
                    var vm = Vector256.Create(m);
                    var vs = Vector256.Create(s);
                    for (; i <= c1 - 8; i += 8)
                    {
                        var g = Vector256.Load(dy + i);
                        var norm = (Vector256.Load(x + i) - vm) * vs;
                        Vector256.Store(VectorMath.MultiplyAdd(g, norm, Vector256.Load(Dweight + i)), Dweight + i);
                    }
                }
                for (; i < c1; i++) Dweight[i] += dy[i] * (x[i] - m) * s;
                if (Dbias != null) VectorMath.AddTo(dy + c0, Dbias + c0, c1 - c0);
            }
        }
    }
}
