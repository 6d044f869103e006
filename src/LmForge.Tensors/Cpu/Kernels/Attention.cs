using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Causal multi-head self-attention without storing the (T,T) attention matrix: the forward keeps only each softmax
/// row's log-sum-exp, and the backward recomputes the probabilities from q, k and it (as FlashAttention does).
/// Queries are processed in blocks of <see cref="QueryBlock"/> rows so every k and v row loaded serves four queries.
/// </summary>
internal static unsafe class Attention
{
    private const int QueryBlock = 4;

    // out is (B,T,C), lse is (B,NH,T), qkv is (B,T,3C) with q, k, v each (B,T,NH,hs) inside it
    // out[b,t,h] = Σ_{j≤t} softmax_j(q_t·k_j/√hs) v_j ; lse[b,h,t] = log Σ_{j≤t} exp(q_t·k_j/√hs)
    public static void Forward(WorkerPool pool, float* output, float* lse, float* qkv, int batchSize, int tokenCount, int channels, int headCount)
    {
        int blocks = (tokenCount + QueryBlock - 1) / QueryBlock;
        var op = new ForwardBlocks
        {
            Output = output, Lse = lse, Qkv = qkv, TokenCount = tokenCount, Channels = channels, HeadCount = headCount,
            HeadSize = channels / headCount, BlocksPerHead = blocks,
        };
        pool.Run(batchSize * headCount * blocks, Math.Max(1, 65536 / Math.Max(1, tokenCount * channels / headCount * QueryBlock)), ref op);
    }

    // dqkv (B,T,3C) is overwritten; dout (B,T,C); qkv, out, lse from the forward.
    // With p_tj = exp(s_tj − lse_t) and D_t = dout_t·out_t:  dv_j += p_tj·dout_t,  ds_tj = p_tj·(dout_t·v_j − D_t),
    // dq_t += ds_tj·k_j/√hs,  dk_j += ds_tj·q_t/√hs.  Each (b,h) pair writes only its own slices, so pairs run in parallel.
    public static void Backward(WorkerPool pool, float* dqkv, float* doutput, float* qkv, float* output, float* lse,
        int batchSize, int tokenCount, int channels, int headCount)
    {
        var op = new BackwardHeads
        {
            Dqkv = dqkv, Doutput = doutput, Qkv = qkv, Output = output, Lse = lse,
            TokenCount = tokenCount, Channels = channels, HeadCount = headCount, HeadSize = channels / headCount,
        };
        pool.Run(batchSize * headCount, 1, ref op);
    }

    private struct ForwardBlocks : IRangeOperation
    {
        public float* Output, Lse, Qkv;
        public int TokenCount, Channels, HeadCount, HeadSize, BlocksPerHead;

        public readonly void Invoke(int start, int end)
        {
            int T = TokenCount, C = Channels, hs = HeadSize;
            long rowStride = 3L * C;
            float scale = 1f / MathF.Sqrt(hs);
            float* p = stackalloc float[QueryBlock * T];   // scores, then probabilities, of the block's query rows
            float* spare = stackalloc float[hs];           // output row for padding queries past the end
            float** q = stackalloc float*[QueryBlock];
            float** o = stackalloc float*[QueryBlock];
            for (int unit = start; unit < end; unit++)
            {
                int block = unit % BlocksPerHead;
                int bh = unit / BlocksPerHead;
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                int t0 = block * QueryBlock;
                int count = Math.Min(QueryBlock, T - t0);
                int last = t0 + count - 1;
                float* qBase = Qkv + ((long)b * T * rowStride) + (h * hs);
                float* kBase = qBase + C;
                float* vBase = qBase + (2 * C);
                for (int r = 0; r < QueryBlock; r++)
                {
                    int t = t0 + Math.Min(r, count - 1); // padding rows repeat the last real query; their results are discarded
                    q[r] = qBase + (t * rowStride);
                    o[r] = r < count ? Output + ((((long)b * T) + t) * C) + (h * hs) : spare;
                    new Span<float>(o[r], hs).Clear();
                }

                for (int j = 0; j <= last; j++) Dot4(kBase + (j * rowStride), q, hs, scale, p + j, T);
                for (int r = 0; r < QueryBlock; r++)
                {
                    float* row = p + (r * T);
                    int visible = r < count ? t0 + r + 1 : 0; // keys j ≤ t are visible to query t
                    if (visible > 0)
                    {
                        float max = VectorMath.Max(row, visible);
                        float sum = VectorMath.SumExp(row, max, visible);
                        VectorMath.ExpScale(row, max, 1f / sum, row, visible);
                        Lse[((long)bh * T) + t0 + r] = max + MathF.Log(sum);
                    }
                    new Span<float>(row + visible, last + 1 - visible).Clear();
                }
                WeightedSum4(p, T, vBase, rowStride, last + 1, o, hs);
            }
        }
    }

    private struct BackwardHeads : IRangeOperation
    {
        public float* Dqkv, Doutput, Qkv, Output, Lse;
        public int TokenCount, Channels, HeadCount, HeadSize;

        public readonly void Invoke(int start, int end)
        {
            int T = TokenCount, C = Channels, hs = HeadSize;
            long rowStride = 3L * C;
            float scale = 1f / MathF.Sqrt(hs);
            float* p = stackalloc float[QueryBlock * T];   // probabilities of the block's rows
            float* ds = stackalloc float[QueryBlock * T];  // score gradients (already × 1/√hs)
            float* spare = stackalloc float[hs];
            float* zero = stackalloc float[hs];
            new Span<float>(zero, hs).Clear();
            float* d = stackalloc float[QueryBlock];
            float** q = stackalloc float*[QueryBlock];
            float** dq = stackalloc float*[QueryBlock];
            float** dout = stackalloc float*[QueryBlock];
            for (int bh = start; bh < end; bh++)
            {
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                long batchOffset = (long)b * T * rowStride;
                float* qBase = Qkv + batchOffset + (h * hs);
                float* kBase = qBase + C;
                float* vBase = qBase + (2 * C);
                float* dqBase = Dqkv + batchOffset + (h * hs);
                float* dkBase = dqBase + C;
                float* dvBase = dqBase + (2 * C);
                for (int t = 0; t < T; t++)
                {
                    new Span<float>(dqBase + (t * rowStride), hs).Clear();
                    new Span<float>(dkBase + (t * rowStride), hs).Clear();
                    new Span<float>(dvBase + (t * rowStride), hs).Clear();
                }
                float* lseRow = Lse + ((long)bh * T);
                for (int t0 = 0; t0 < T; t0 += QueryBlock)
                {
                    int count = Math.Min(QueryBlock, T - t0);
                    int last = t0 + count - 1;
                    for (int r = 0; r < QueryBlock; r++)
                    {
                        int t = t0 + Math.Min(r, count - 1);
                        long outOffset = ((((long)b * T) + t) * C) + (h * hs);
                        q[r] = qBase + (t * rowStride);
                        dq[r] = r < count ? dqBase + (t * rowStride) : spare;
                        dout[r] = r < count ? Doutput + outOffset : zero; // a zero gradient makes padding rows contribute nothing
                        d[r] = r < count ? VectorMath.Dot(Doutput + outOffset, Output + outOffset, hs) : 0f;
                    }
                    for (int j = 0; j <= last; j++) Dot4(kBase + (j * rowStride), q, hs, scale, p + j, T);
                    for (int j = 0; j <= last; j++) Dot4(vBase + (j * rowStride), dout, hs, 1f, ds + j, T);
                    for (int r = 0; r < QueryBlock; r++)
                    {
                        float* pRow = p + (r * T);
                        float* dsRow = ds + (r * T);
                        int visible = r < count ? t0 + r + 1 : 0;
                        float lse = r < count ? lseRow[t0 + r] : 0f;
                        VectorMath.ExpScale(pRow, lse, 1f, pRow, visible);
                        for (int j = 0; j < visible; j++) dsRow[j] = pRow[j] * (dsRow[j] - d[r]) * scale;
                        for (int j = visible; j <= last; j++)
                        {
                            pRow[j] = 0f;
                            dsRow[j] = 0f;
                        }
                    }
                    // dq_r += Σ_j ds_rj k_j ; dk_j += Σ_r ds_rj q_r ; dv_j += Σ_r p_rj dout_r
                    WeightedSum4(ds, T, kBase, rowStride, last + 1, dq, hs);
                    for (int j = 0; j <= last; j++)
                    {
                        ScatterAdd4(ds + j, T, q, dkBase + (j * rowStride), hs);
                        ScatterAdd4(p + j, T, dout, dvBase + (j * rowStride), hs);
                    }
                }
            }
        }
    }

    // result[r·stride] = (x · rows[r]) · scale for r < 4; x and rows are (hs)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4(float* x, float** rows, int hs, float scale, float* result, int stride)
    {
        float* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        if (VectorMath.IsAccelerated && hs >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= hs - 8; i += 8)
            {
                var xv = Vector256.Load(x + i);
                a0 = VectorMath.MultiplyAdd(xv, Vector256.Load(r0 + i), a0);
                a1 = VectorMath.MultiplyAdd(xv, Vector256.Load(r1 + i), a1);
                a2 = VectorMath.MultiplyAdd(xv, Vector256.Load(r2 + i), a2);
                a3 = VectorMath.MultiplyAdd(xv, Vector256.Load(r3 + i), a3);
            }
            s0 = Vector256.Sum(a0);
            s1 = Vector256.Sum(a1);
            s2 = Vector256.Sum(a2);
            s3 = Vector256.Sum(a3);
        }
        for (; i < hs; i++)
        {
            s0 += x[i] * r0[i];
            s1 += x[i] * r1[i];
            s2 += x[i] * r2[i];
            s3 += x[i] * r3[i];
        }
        result[0] = s0 * scale;
        result[stride] = s1 * scale;
        result[2 * stride] = s2 * scale;
        result[3 * stride] = s3 * scale;
    }

    // outputs[r] += Σ_{j<count} weights[r·stride + j] · source[j·sourceStride] for r < 4; rows are (hs).
    // Channel chunks outermost so the four accumulators stay in registers while the source rows stream past.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightedSum4(float* weights, int stride, float* source, long sourceStride, int count, float** outputs, int hs)
    {
        float* o0 = outputs[0], o1 = outputs[1], o2 = outputs[2], o3 = outputs[3];
        float* w0 = weights, w1 = weights + stride, w2 = weights + (2 * stride), w3 = weights + (3 * stride);
        int i = 0;
        if (VectorMath.IsAccelerated)
        {
            for (; i <= hs - 8; i += 8)
            {
                var a0 = Vector256.Load(o0 + i);
                var a1 = Vector256.Load(o1 + i);
                var a2 = Vector256.Load(o2 + i);
                var a3 = Vector256.Load(o3 + i);
                float* src = source + i;
                for (int j = 0; j < count; j++, src += sourceStride)
                {
                    var v = Vector256.Load(src);
                    a0 = VectorMath.MultiplyAdd(Vector256.Create(w0[j]), v, a0);
                    a1 = VectorMath.MultiplyAdd(Vector256.Create(w1[j]), v, a1);
                    a2 = VectorMath.MultiplyAdd(Vector256.Create(w2[j]), v, a2);
                    a3 = VectorMath.MultiplyAdd(Vector256.Create(w3[j]), v, a3);
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
            float* src = source + i;
            for (int j = 0; j < count; j++, src += sourceStride)
            {
                float v = *src;
                a0 += w0[j] * v;
                a1 += w1[j] * v;
                a2 += w2[j] * v;
                a3 += w3[j] * v;
            }
            o0[i] = a0;
            o1[i] = a1;
            o2[i] = a2;
            o3[i] = a3;
        }
    }

    // target += Σ_{r<4} weights[r·stride] · rows[r]; rows and target are (hs)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScatterAdd4(float* weights, int stride, float** rows, float* target, int hs)
    {
        float c0 = weights[0], c1 = weights[stride], c2 = weights[2 * stride], c3 = weights[3 * stride];
        float* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int i = 0;
        if (VectorMath.IsAccelerated)
        {
            var v0 = Vector256.Create(c0);
            var v1 = Vector256.Create(c1);
            var v2 = Vector256.Create(c2);
            var v3 = Vector256.Create(c3);
            for (; i <= hs - 8; i += 8)
            {
                var acc = Vector256.Load(target + i);
                acc = VectorMath.MultiplyAdd(v0, Vector256.Load(r0 + i), acc);
                acc = VectorMath.MultiplyAdd(v1, Vector256.Load(r1 + i), acc);
                acc = VectorMath.MultiplyAdd(v2, Vector256.Load(r2 + i), acc);
                acc = VectorMath.MultiplyAdd(v3, Vector256.Load(r3 + i), acc);
                Vector256.Store(acc, target + i);
            }
        }
        for (; i < hs; i++) target[i] += (c0 * r0[i]) + (c1 * r1[i]) + (c2 * r2[i]) + (c3 * r3[i]);
    }
}
