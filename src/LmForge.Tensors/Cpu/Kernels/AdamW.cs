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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Range(long i, long stop, float decay)
        {
            float* p = Parameters, g = Gradients, m = M, v = V;
            if (Vector512.IsHardwareAccelerated) Vectors<Float512, Vector512<float>>(ref i, stop, decay);
            if (VectorMath.IsAccelerated) Vectors<Float256, Vector256<float>>(ref i, stop, decay);
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

        // The update of every whole vector from i on, at one width; i ends at the first element left to the next.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Vectors<TLanes, TVector>(ref long i, long stop, float decay)
            where TLanes : struct, IFloatLanes<TVector> where TVector : struct
        {
            float* p = Parameters, g = Gradients, m = M, v = V;
            var vDecay = TLanes.Create(decay);
            var vBeta1 = TLanes.Create(Beta1);
            var vBeta2 = TLanes.Create(Beta2);
            var vOneMinusBeta1 = TLanes.Create(1f - Beta1);
            var vOneMinusBeta2 = TLanes.Create(1f - Beta2);
            var vScale = TLanes.Create(GradientScale);
            var vEps = TLanes.Create(Epsilon);
            var vStep = TLanes.Create(StepSize);
            var vInvBc2 = TLanes.Create(InverseBiasCorrection2Sqrt);
            for (; i <= stop - TLanes.Count; i += TLanes.Count)
            {
                var grad = TLanes.Multiply(TLanes.Load(g + i), vScale);
                var mi = TLanes.MultiplyAdd(vBeta1, TLanes.Load(m + i), TLanes.Multiply(vOneMinusBeta1, grad));
                var vi = TLanes.MultiplyAdd(vBeta2, TLanes.Load(v + i), TLanes.Multiply(TLanes.Multiply(vOneMinusBeta2, grad), grad));
                var denom = TLanes.Add(TLanes.Multiply(TLanes.Sqrt(vi), vInvBc2), vEps);
                var pi = TLanes.Subtract(TLanes.Multiply(TLanes.Load(p + i), vDecay), TLanes.Divide(TLanes.Multiply(vStep, mi), denom));
                TLanes.Store(mi, m + i);
                TLanes.Store(vi, v + i);
                TLanes.Store(pi, p + i);
            }
        }
    }
}
