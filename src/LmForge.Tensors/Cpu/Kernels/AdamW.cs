using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>AdamW exactly as torch.optim.AdamW (1.13) computes it, with the gradient pre-scaled by the clipping factor.</summary>
internal static unsafe class AdamW
{
    // params, grads, m, v are (N). For each element, with g = grad·gradScale:
    //   p −= lr·wd·p (only i &lt; decayedLength);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
    //   p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps)
    public static void Update(WorkerPool pool, float* parameters, float* gradients, float* m, float* v, long length, long decayedLength, in AdamWUpdate update)
    {
        var op = new Chunks
        {
            Parameters = parameters, Gradients = gradients, M = m, V = v, Length = length, DecayedLength = decayedLength,
            Beta1 = update.Beta1, Beta2 = update.Beta2, Epsilon = update.Epsilon, GradientScale = update.GradientScale,
            StepSize = (float)(update.LearningRate / (1.0 - Math.Pow(update.Beta1, update.Step))),
            InverseBiasCorrection2Sqrt = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(update.Beta2, update.Step))),
            DecayFactor = 1f - (update.LearningRate * update.WeightDecay),
        };
        pool.Run((int)((length + ChunkSize - 1) / ChunkSize), 2, ref op);
    }

    private const int ChunkSize = 8192;

    private struct Chunks : IRangeOperation
    {
        public float* Parameters, Gradients, M, V;
        public long Length, DecayedLength;
        public float Beta1, Beta2, Epsilon, GradientScale, StepSize, InverseBiasCorrection2Sqrt, DecayFactor;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long begin = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            long split = Math.Clamp(DecayedLength, begin, stop);
            Range(begin, split, DecayFactor);
            Range(split, stop, 1f);
        }

        private readonly void Range(long i, long stop, float decay)
        {
            float* p = Parameters, g = Gradients, m = M, v = V;
            if (VectorMath.IsAccelerated)
            {
                var vDecay = Vector256.Create(decay);
                var vBeta1 = Vector256.Create(Beta1);
                var vBeta2 = Vector256.Create(Beta2);
                var vOneMinusBeta1 = Vector256.Create(1f - Beta1);
                var vOneMinusBeta2 = Vector256.Create(1f - Beta2);
                var vScale = Vector256.Create(GradientScale);
                var vEps = Vector256.Create(Epsilon);
                var vStep = Vector256.Create(StepSize);
                var vInvBc2 = Vector256.Create(InverseBiasCorrection2Sqrt);
                for (; i <= stop - 8; i += 8)
                {
                    var grad = Vector256.Load(g + i) * vScale;
                    var mi = VectorMath.MultiplyAdd(vBeta1, Vector256.Load(m + i), vOneMinusBeta1 * grad);
                    var vi = VectorMath.MultiplyAdd(vBeta2, Vector256.Load(v + i), vOneMinusBeta2 * grad * grad);
                    var denom = (Vector256.Sqrt(vi) * vInvBc2) + vEps;
                    var pi = (Vector256.Load(p + i) * vDecay) - (vStep * mi / denom);
                    Vector256.Store(mi, m + i);
                    Vector256.Store(vi, v + i);
                    Vector256.Store(pi, p + i);
                }
            }
            for (; i < stop; i++)
            {
                float grad = g[i] * GradientScale;
                float mi = (Beta1 * m[i]) + ((1f - Beta1) * grad);
                float vi = (Beta2 * v[i]) + ((1f - Beta2) * grad * grad);
                float denom = (MathF.Sqrt(vi) * InverseBiasCorrection2Sqrt) + Epsilon;
                m[i] = mi;
                v[i] = vi;
                p[i] = (p[i] * decay) - (StepSize * mi / denom);
            }
        }
    }
}
