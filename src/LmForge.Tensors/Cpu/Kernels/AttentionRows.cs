using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Row arithmetic the attention kernels share (training and KV-cached).</summary>
internal static unsafe class AttentionRows
{
    // o_r[i] += Σ_{j<count} p[r·pStride + j] · v[j·stride + i] for the four rows r < 4 and i < hs.
    // Channel chunks outermost (16, then 8 wide) so the accumulators stay in registers while the v rows stream past.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WeightedSum4(float* p, int pStride, float* v, long stride, int count, float* o0, float* o1, float* o2, float* o3, int hs)
    {
        float* p0 = p, p1 = p + pStride, p2 = p + (2 * pStride), p3 = p + (3 * pStride);
        int i = 0;
        if (VectorMath.IsAccelerated)
        {
            for (; i <= hs - 16; i += 16)
            {
                var a0 = Vector256.Load(o0 + i);
                var a1 = Vector256.Load(o1 + i);
                var a2 = Vector256.Load(o2 + i);
                var a3 = Vector256.Load(o3 + i);
                var b0 = Vector256.Load(o0 + i + 8);
                var b1 = Vector256.Load(o1 + i + 8);
                var b2 = Vector256.Load(o2 + i + 8);
                var b3 = Vector256.Load(o3 + i + 8);
                float* src = v + i;
                for (int j = 0; j < count; j++, src += stride)
                {
                    var lo = Vector256.Load(src);
                    var hi = Vector256.Load(src + 8);
                    var w0 = Vector256.Create(p0[j]);
                    var w1 = Vector256.Create(p1[j]);
                    var w2 = Vector256.Create(p2[j]);
                    var w3 = Vector256.Create(p3[j]);
                    a0 = VectorMath.MultiplyAdd(w0, lo, a0);
                    a1 = VectorMath.MultiplyAdd(w1, lo, a1);
                    a2 = VectorMath.MultiplyAdd(w2, lo, a2);
                    a3 = VectorMath.MultiplyAdd(w3, lo, a3);
                    b0 = VectorMath.MultiplyAdd(w0, hi, b0);
                    b1 = VectorMath.MultiplyAdd(w1, hi, b1);
                    b2 = VectorMath.MultiplyAdd(w2, hi, b2);
                    b3 = VectorMath.MultiplyAdd(w3, hi, b3);
                }
                Vector256.Store(a0, o0 + i);
                Vector256.Store(a1, o1 + i);
                Vector256.Store(a2, o2 + i);
                Vector256.Store(a3, o3 + i);
                Vector256.Store(b0, o0 + i + 8);
                Vector256.Store(b1, o1 + i + 8);
                Vector256.Store(b2, o2 + i + 8);
                Vector256.Store(b3, o3 + i + 8);
            }
            for (; i <= hs - 8; i += 8)
            {
                var a0 = Vector256.Load(o0 + i);
                var a1 = Vector256.Load(o1 + i);
                var a2 = Vector256.Load(o2 + i);
                var a3 = Vector256.Load(o3 + i);
                float* src = v + i;
                for (int j = 0; j < count; j++, src += stride)
                {
                    var x = Vector256.Load(src);
                    a0 = VectorMath.MultiplyAdd(Vector256.Create(p0[j]), x, a0);
                    a1 = VectorMath.MultiplyAdd(Vector256.Create(p1[j]), x, a1);
                    a2 = VectorMath.MultiplyAdd(Vector256.Create(p2[j]), x, a2);
                    a3 = VectorMath.MultiplyAdd(Vector256.Create(p3[j]), x, a3);
                }
                Vector256.Store(a0, o0 + i);
                Vector256.Store(a1, o1 + i);
                Vector256.Store(a2, o2 + i);
                Vector256.Store(a3, o3 + i);
            }
        }
        for (; i < hs; i++)
        {
            float a0 = o0[i], a1 = o1[i], a2 = o2[i], a3 = o3[i];
            float* src = v + i;
            for (int j = 0; j < count; j++, src += stride)
            {
                float x = *src;
                a0 += p0[j] * x;
                a1 += p1[j] * x;
                a2 += p2[j] * x;
                a3 += p3[j] * x;
            }
            o0[i] = a0;
            o1[i] = a1;
            o2[i] = a2;
            o3[i] = a3;
        }
    }
}
