using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Multi-head attention (self or cross, grouped-query, causal or not, with an optional key mask, additive position
/// bias and first visible key per query for packed documents) without storing the (Tq,Tk) attention matrix: the
/// forward keeps only each softmax row's log-sum-exp, and the backward recomputes the probabilities from q, k and it
/// (as FlashAttention does). Queries are processed in blocks of <see cref="QueryBlock"/> rows of one head so every k
/// and v row loaded serves four queries; a block computes only keys from its queries' lowest first key to its last
/// query's causal end, and each row's softmax runs over its own visible range (the rest of the block's keys weigh 0).
/// </summary>
internal static unsafe class Attention
{
    private const int QueryBlock = 4;

    // query (B,Tq,Wq), keyValue (B,Tk,Wkv) with heads placed by layout; keyMask (B,Tk) or null; positionBias (NH,Tq,Tk)
    // or null; firstKey (B,Tq) in [0, Tk] or null; output (B,Tq,NH·hs); lse (B,NH,Tq). With s_tj = scale·(q_t·k_j) +
    // bias[h,t,j] over the visible keys j (causal, unmasked, j >= firstKey[b,t]):
    // out[b,t,h] = Σ_j softmax_j(s_t) v_j ; lse[b,h,t] = log Σ_j exp(s_tj), +∞ for a query that sees no key (its output
    // is 0, and exp(s − lse) = 0 makes its backward vanish).
    public static void Forward(WorkerPool pool, float* output, float* lse, float* query, float* keyValue, int* keyMask, float* positionBias,
        int* firstKey, int batchSize, int queryCount, int keyCount, int queryWidth, int keyValueWidth, in AttentionLayout layout)
    {
        int hs = layout.HeadSize;
        int blocks = (queryCount + QueryBlock - 1) / QueryBlock;
        var op = new ForwardBlocks
        {
            Output = output, Lse = lse, Query = query + layout.QueryColumn, Key = keyValue + layout.KeyColumn,
            Value = keyValue + layout.ValueColumn, Mask = keyMask, Bias = positionBias, FirstKey = firstKey,
            QueryCount = queryCount, KeyCount = keyCount, QueryStride = queryWidth, KeyValueStride = keyValueWidth,
            HeadCount = layout.HeadCount, GroupSize = layout.HeadCount / layout.KeyValueHeadCount, HeadSize = hs,
            BlocksPerHead = blocks, Causal = layout.Causal, Scale = layout.Scale,
        };
        pool.Run(batchSize * layout.HeadCount * blocks, Math.Max(1, 65536 / Math.Max(1, keyCount * hs * QueryBlock)), ref op);
    }

    // queryGrad (B,Tq,Wq) q columns and keyValueGrad (B,Tk,Wkv) k and v columns are overwritten; positionBiasGrad
    // (NH,Tq,Tk) or null is accumulated; outputGrad (B,Tq,NH·hs); the rest as in Forward.
    // With p_tj = exp(s_tj − lse_t) and D_t = dout_t·out_t:  dv_j += p_tj·dout_t,  g_tj = p_tj·(dout_t·v_j − D_t),
    // dbias_tj += g_tj,  dq_t += scale·g_tj·k_j,  dk_j += scale·g_tj·q_t.
    // A unit of work is a (b, kv head) pair: it alone writes that pair's dk and dv (summed over the group's query heads)
    // and its query heads' dq. dbias is summed over the batch, so with it a unit is a kv head looping over the batch.
    public static void Backward(WorkerPool pool, float* queryGrad, float* keyValueGrad, float* positionBiasGrad, float* outputGrad,
        float* query, float* keyValue, float* output, float* lse, int* keyMask, float* positionBias, int* firstKey,
        int batchSize, int queryCount, int keyCount, int queryWidth, int keyValueWidth, in AttentionLayout layout)
    {
        var op = new BackwardGroups
        {
            QueryGrad = queryGrad + layout.QueryColumn, KeyGrad = keyValueGrad + layout.KeyColumn, ValueGrad = keyValueGrad + layout.ValueColumn,
            BiasGrad = positionBiasGrad, OutputGrad = outputGrad, Query = query + layout.QueryColumn, Key = keyValue + layout.KeyColumn,
            Value = keyValue + layout.ValueColumn, Output = output, Lse = lse, Mask = keyMask, Bias = positionBias, FirstKey = firstKey,
            BatchSize = batchSize, QueryCount = queryCount, KeyCount = keyCount, QueryStride = queryWidth, KeyValueStride = keyValueWidth,
            HeadCount = layout.HeadCount, KeyValueHeadCount = layout.KeyValueHeadCount, HeadSize = layout.HeadSize,
            Causal = layout.Causal, Scale = layout.Scale,
        };
        int units = positionBiasGrad == null ? batchSize * layout.KeyValueHeadCount : layout.KeyValueHeadCount;
        pool.Run(units, 1, ref op);
    }

    // Keys [0, result) are not hidden by causality from query t: j ≤ t + (Tk − Tq), the last query seeing every key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CausalKeyCount(int t, int queryCount, int keyCount, bool causal) =>
        causal ? Math.Clamp(t + 1 + keyCount - queryCount, 0, keyCount) : keyCount;

    // The lowest first key of the block's real queries [t0, t0 + count), at most keys; 0 without packed documents.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockLow(int* firstKey, int t0, int count, int keys)
    {
        if (firstKey == null) return 0;
        int low = keys;
        for (int r = 0; r < count; r++) low = Math.Min(low, firstKey[t0 + r]);
        return low;
    }

    // The keys query t sees, before the mask: [first, end) with first = firstKey[t] (0 without packed documents) and end
    // from causality, clamped so that low <= first <= end <= keys (an empty range when first would pass end).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int End) VisibleKeys(int* firstKey, int t, int end, int low, int keys)
    {
        int first = firstKey == null ? 0 : Math.Clamp(firstKey[t], low, keys);
        return (first, Math.Clamp(end, first, keys));
    }

    // scores[j] = −∞ where mask[j] == 0, for j < count
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HideMaskedKeys(float* scores, int* mask, int count)
    {
        for (int j = 0; j < count; j++)
        {
            if (mask[j] == 0) scores[j] = float.NegativeInfinity;
        }
    }

    // g_j = p[j]·(ds[j] − d); ds[j] = g_j·scale and, with a bias gradient, biasGrad[j] += g_j, for j < n
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreGradient(float* p, float* ds, float d, float scale, float* biasGrad, int n)
    {
        int j = 0;
        if (VectorMath.IsAccelerated)
        {
            var vd = Vector256.Create(d);
            var vs = Vector256.Create(scale);
            for (; j <= n - 8; j += 8)
            {
                var g = Vector256.Load(p + j) * (Vector256.Load(ds + j) - vd);
                if (biasGrad != null) Vector256.Store(Vector256.Load(biasGrad + j) + g, biasGrad + j);
                Vector256.Store(g * vs, ds + j);
            }
        }
        for (; j < n; j++)
        {
            float g = p[j] * (ds[j] - d);
            if (biasGrad != null) biasGrad[j] += g;
            ds[j] = g * scale;
        }
    }

    private struct ForwardBlocks : IRangeOperation
    {
        public float* Output, Lse, Query, Key, Value, Bias;
        public int* Mask, FirstKey;
        public int QueryCount, KeyCount, QueryStride, KeyValueStride, HeadCount, GroupSize, HeadSize, BlocksPerHead;
        public bool Causal;
        public float Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int Tq = QueryCount, Tk = KeyCount, hs = HeadSize;
            long outStride = (long)HeadCount * hs;
            float* p = ThreadScratch.Floats((long)QueryBlock * Tk);  // scores, then probabilities, of the block's query rows
            float* spare = stackalloc float[hs];           // output row for padding queries past the end
            float** q = stackalloc float*[QueryBlock];
            float** o = stackalloc float*[QueryBlock];
            int* first = stackalloc int[QueryBlock];   // row r sees keys [first[r], visible[r]) before the mask
            int* visible = stackalloc int[QueryBlock];
            for (int unit = start; unit < end; unit++)
            {
                int block = unit % BlocksPerHead;
                int bh = unit / BlocksPerHead;
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                int g = h / GroupSize;
                int t0 = block * QueryBlock;
                int count = Math.Min(QueryBlock, Tq - t0);
                float* qBase = Query + ((long)b * Tq * QueryStride) + (h * hs);
                float* kBase = Key + ((long)b * Tk * KeyValueStride) + (g * hs);
                float* vBase = Value + ((long)b * Tk * KeyValueStride) + (g * hs);
                int* mask = Mask == null ? null : Mask + ((long)b * Tk);
                int* firstKey = FirstKey == null ? null : FirstKey + ((long)b * Tq);
                for (int r = 0; r < QueryBlock; r++)
                {
                    int t = t0 + Math.Min(r, count - 1); // padding rows repeat the last real query; their results are discarded
                    q[r] = qBase + ((long)t * QueryStride);
                    o[r] = r < count ? Output + ((((long)b * Tq) + t) * outStride) + (h * hs) : spare;
                    new Span<float>(o[r], hs).Clear();
                    visible[r] = r < count ? CausalKeyCount(t, Tq, Tk, Causal) : 0;
                }
                // the block computes keys [low, keys): the last query sees the most, the lowest first key starts them
                int keys = visible[count - 1];
                int low = BlockLow(firstKey, t0, count, keys);
                for (int r = 0; r < QueryBlock; r++) (first[r], visible[r]) = VisibleKeys(firstKey, t0 + Math.Min(r, count - 1), visible[r], low, keys);

                for (int j = low; j < keys; j++) Dot4(kBase + ((long)j * KeyValueStride), q, hs, Scale, p + j, Tk);
                for (int r = 0; r < QueryBlock; r++)
                {
                    int f = first[r], n = visible[r];
                    float* row = p + (r * Tk);
                    float* keysSeen = row + f;
                    float logSumExp = float.PositiveInfinity;
                    if (n > f)
                    {
                        if (Bias != null) VectorMath.AddTo(Bias + ((((long)h * Tq) + t0 + r) * Tk) + f, keysSeen, n - f);
                        if (mask != null) HideMaskedKeys(keysSeen, mask + f, n - f);
                        float max = VectorMath.Max(keysSeen, n - f);
                        if (max == float.NegativeInfinity)
                        {
                            n = f; // every key masked: output stays 0
                        }
                        else
                        {
                            float sum = VectorMath.SumExp(keysSeen, max, n - f);
                            VectorMath.ExpScale(keysSeen, max, 1f / sum, keysSeen, n - f);
                            logSumExp = max + MathF.Log(sum);
                        }
                    }
                    if (r < count) Lse[((long)bh * Tq) + t0 + r] = logSumExp;
                    // keys the block computed but this row does not see (another document's, or after it) weigh 0
                    new Span<float>(row + low, f - low).Clear();
                    new Span<float>(row + n, keys - n).Clear();
                }
                AttentionRows.WeightedSum4(p + low, Tk, vBase + ((long)low * KeyValueStride), KeyValueStride, keys - low, o[0], o[1], o[2], o[3], hs);
            }
        }
    }

    private struct BackwardGroups : IRangeOperation
    {
        public float* QueryGrad, KeyGrad, ValueGrad, BiasGrad, OutputGrad, Query, Key, Value, Output, Lse, Bias;
        public int* Mask, FirstKey;
        public int BatchSize, QueryCount, KeyCount, QueryStride, KeyValueStride, HeadCount, KeyValueHeadCount, HeadSize;
        public bool Causal;
        public float Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int Tq = QueryCount, Tk = KeyCount, hs = HeadSize, groupSize = HeadCount / KeyValueHeadCount;
            long outStride = (long)HeadCount * hs;
            float scale = Scale;
            float* p = ThreadScratch.Floats(2L * QueryBlock * Tk);  // probabilities of the block's rows
            float* ds = p + ((long)QueryBlock * Tk);              // score gradients (already × scale)
            float* spare = stackalloc float[hs];
            float* zero = stackalloc float[hs];
            new Span<float>(zero, hs).Clear();
            float* d = stackalloc float[QueryBlock];
            int* first = stackalloc int[QueryBlock];
            int* visible = stackalloc int[QueryBlock];
            float** q = stackalloc float*[QueryBlock];
            float** dq = stackalloc float*[QueryBlock];
            float** dout = stackalloc float*[QueryBlock];
            for (int unit = start; unit < end; unit++)
            {
                int g = BiasGrad == null ? unit % KeyValueHeadCount : unit;
                int firstBatch = BiasGrad == null ? unit / KeyValueHeadCount : 0;
                int endBatch = BiasGrad == null ? firstBatch + 1 : BatchSize;
                for (int b = firstBatch; b < endBatch; b++)
                {
                    long queryOffset = (long)b * Tq * QueryStride, keyValueOffset = ((long)b * Tk * KeyValueStride) + (g * hs);
                    float* kBase = Key + keyValueOffset;
                    float* vBase = Value + keyValueOffset;
                    float* dkBase = KeyGrad + keyValueOffset;
                    float* dvBase = ValueGrad + keyValueOffset;
                    for (int j = 0; j < Tk; j++)
                    {
                        new Span<float>(dkBase + ((long)j * KeyValueStride), hs).Clear();
                        new Span<float>(dvBase + ((long)j * KeyValueStride), hs).Clear();
                    }
                    int* mask = Mask == null ? null : Mask + ((long)b * Tk);
                    int* firstKey = FirstKey == null ? null : FirstKey + ((long)b * Tq);
                    for (int h = g * groupSize; h < (g + 1) * groupSize; h++)
                    {
                        float* qBase = Query + queryOffset + (h * hs);
                        float* dqBase = QueryGrad + queryOffset + (h * hs);
                        float* lseRow = Lse + ((((long)b * HeadCount) + h) * Tq);
                        for (int t0 = 0; t0 < Tq; t0 += QueryBlock)
                        {
                            int count = Math.Min(QueryBlock, Tq - t0);
                            for (int r = 0; r < QueryBlock; r++)
                            {
                                int t = t0 + Math.Min(r, count - 1);
                                long outOffset = ((((long)b * Tq) + t) * outStride) + (h * hs);
                                q[r] = qBase + ((long)t * QueryStride);
                                dq[r] = r < count ? dqBase + ((long)t * QueryStride) : spare;
                                new Span<float>(dq[r], hs).Clear();
                                dout[r] = r < count ? OutputGrad + outOffset : zero; // a zero gradient makes padding rows contribute nothing
                                d[r] = r < count ? VectorMath.Dot(OutputGrad + outOffset, Output + outOffset, hs) : 0f;
                                visible[r] = r < count ? CausalKeyCount(t, Tq, Tk, Causal) : 0;
                            }
                            int keys = visible[count - 1];
                            int low = BlockLow(firstKey, t0, count, keys);
                            for (int r = 0; r < QueryBlock; r++) (first[r], visible[r]) = VisibleKeys(firstKey, t0 + Math.Min(r, count - 1), visible[r], low, keys);
                            for (int j = low; j < keys; j++) Dot4(kBase + ((long)j * KeyValueStride), q, hs, scale, p + j, Tk);
                            for (int j = low; j < keys; j++) Dot4(vBase + ((long)j * KeyValueStride), dout, hs, 1f, ds + j, Tk);
                            for (int r = 0; r < QueryBlock; r++)
                            {
                                int f = first[r], n = visible[r];
                                float* pRow = p + (r * Tk);
                                float* dsRow = ds + (r * Tk);
                                if (n > f)
                                {
                                    long biasRow = ((((long)h * Tq) + t0 + r) * Tk) + f;
                                    if (Bias != null) VectorMath.AddTo(Bias + biasRow, pRow + f, n - f);
                                    if (mask != null) HideMaskedKeys(pRow + f, mask + f, n - f);
                                    VectorMath.ExpScale(pRow + f, lseRow[t0 + r], 1f, pRow + f, n - f);
                                    ScoreGradient(pRow + f, dsRow + f, d[r], scale, BiasGrad == null ? null : BiasGrad + biasRow, n - f);
                                }
                                new Span<float>(pRow + low, f - low).Clear();
                                new Span<float>(dsRow + low, f - low).Clear();
                                new Span<float>(pRow + n, keys - n).Clear();
                                new Span<float>(dsRow + n, keys - n).Clear();
                            }
                            // dq_r += Σ_j ds_rj k_j ; dk_j += Σ_r ds_rj q_r ; dv_j += Σ_r p_rj dout_r
                            long lowOffset = (long)low * KeyValueStride;
                            AttentionRows.WeightedSum4(ds + low, Tk, kBase + lowOffset, KeyValueStride, keys - low, dq[0], dq[1], dq[2], dq[3], hs);
                            for (int j = low; j < keys; j++)
                            {
                                ScatterAdd4(ds + j, Tk, q, dkBase + ((long)j * KeyValueStride), hs);
                                ScatterAdd4(p + j, Tk, dout, dvBase + ((long)j * KeyValueStride), hs);
                            }
                        }
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
