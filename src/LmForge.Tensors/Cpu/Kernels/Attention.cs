using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Multi-head attention (self or cross, grouped-query, causal or not, with an optional key mask, additive position
/// bias and first visible key per query for packed documents) without storing the (Tq,Tk) attention matrix: the
/// forward keeps only each softmax row's log-sum-exp, and the backward recomputes the probabilities from q, k and it
/// (as FlashAttention does). Queries are processed in blocks of <see cref="QueryBlock"/> rows of one head, and each
/// block's matrix work runs as products on the GEMM micro-kernel (<see cref="Gemm.MultiplyOnThisThread"/>): scores
/// S = Q·Kᵀ over the keys the block needs (from its queries' lowest first key to its last query's causal end), then
/// O = P·V; the backward's dP = dO·Vᵀ, dQ = dS·K, dK += dSᵀ·Q and dV += Pᵀ·dO likewise. Each row's softmax runs over
/// its own visible range; the block's other keys weigh 0. The block's score rows live in per-thread scratch
/// (<see cref="ThreadScratch"/>), not on the stack.
/// </summary>
internal static unsafe class Attention
{
    // A multiple of the micro-kernel's Mr (6) rows; small enough that a causal block's triangle of keys past its first
    // query (computed, then zeroed) stays a small share of the work at the sequence lengths the models train with.
    internal const int QueryBlock = 48;
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
        pool.Run(batchSize * layout.HeadCount * blocks, 1, ref op);
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

    // With e = factor·s[j] − lse: p[j] = exp(e) (s becomes p), g_j = p[j]·(ds[j] − d), ds[j] = g_j·scale and, with a bias
    // gradient, biasGrad[j] += g_j, for j < n: the backward's probabilities and score gradients in one pass
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreGradient(float* s, float factor, float lse, float* ds, float d, float scale, float* biasGrad, int n)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated) ScoreGradient<Float512, Vector512<float>>(s, factor, lse, ds, d, scale, biasGrad, n, ref j);
        if (VectorMath.IsAccelerated) ScoreGradient<Float256, Vector256<float>>(s, factor, lse, ds, d, scale, biasGrad, n, ref j);
        for (; j < n; j++)
        {
            float p = MathF.Exp((factor * s[j]) - lse);
            float g = p * (ds[j] - d);
            if (biasGrad != null) biasGrad[j] += g;
            s[j] = p;
            ds[j] = g * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreGradient<TLanes, TVector>(float* s, float factor, float lse, float* ds, float d, float scale, float* biasGrad, int n,
        ref int j)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        var vf = TLanes.Create(factor);
        var vl = TLanes.Create(-lse);
        var vd = TLanes.Create(d);
        var vs = TLanes.Create(scale);
        for (; j <= n - TLanes.Count; j += TLanes.Count)
        {
            var p = TLanes.Exp(TLanes.MultiplyAdd(TLanes.Load(s + j), vf, vl));
            var g = TLanes.Multiply(p, TLanes.Subtract(TLanes.Load(ds + j), vd));
            if (biasGrad != null) TLanes.Store(TLanes.Add(TLanes.Load(biasGrad + j), g), biasGrad + j);
            TLanes.Store(p, s + j);
            TLanes.Store(TLanes.Multiply(g, vs), ds + j);
        }
    }

    // The factor a softmax row's raw scores still need: Scale when there is no bias or mask (the exponentials' pass applies
    // it: max(scale·s) = scale·max(s) for a positive scale), else 1 after finishing the scores in place (FinishScores).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScoresFinished(float* row, float scale, float* bias, int* mask, int n)
    {
        if (bias == null && mask == null && scale > 0f) return scale;
        FinishScores(row, scale, bias, mask, n);
        return 1f;
    }

    // row[j] = row[j]·scale + bias[j] (bias may be null), then −∞ where mask[j] == 0 (mask may be null), for j < n
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishScores(float* row, float scale, float* bias, int* mask, int n)
    {
        VectorMath.ScaleInPlace(row, scale, n);
        if (bias != null) VectorMath.AddTo(bias, row, n);
        if (mask != null) HideMaskedKeys(row, mask, n);
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
            int Tq = QueryCount, Tk = KeyCount, hs = HeadSize, kvs = KeyValueStride;
            long outStride = (long)HeadCount * hs;
            float* scores = ThreadScratch.Floats((long)QueryBlock * (Tk + 1)); // the block's rows, (count, width)
            float* rowScale = scores + ((long)QueryBlock * Tk);                  // 1 / Σ p per row (0: the row sees no key)
            for (int unit = start; unit < end; unit++)
            {
                int block = unit % BlocksPerHead;
                int bh = unit / BlocksPerHead;
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                int g = h / GroupSize;
                int t0 = block * QueryBlock;
                int count = Math.Min(QueryBlock, Tq - t0);
                float* queries = Query + ((long)b * Tq * QueryStride) + (h * hs) + ((long)t0 * QueryStride);
                float* kBase = Key + ((long)b * Tk * kvs) + (g * hs);
                float* vBase = Value + ((long)b * Tk * kvs) + (g * hs);
                float* outputs = Output + ((((long)b * Tq) + t0) * outStride) + (h * hs);
                int* mask = Mask == null ? null : Mask + ((long)b * Tk);
                int* firstKey = FirstKey == null ? null : FirstKey + ((long)b * Tq);
                // the block computes keys [low, keys): the last query sees the most, the lowest first key starts them
                int keys = CausalKeyCount(t0 + count - 1, Tq, Tk, Causal);
                int low = BlockLow(firstKey, t0, count, keys);
                int width = keys - low, ld = Math.Max(1, width); // ld: the score rows' stride (a product needs ≥ 1)
                Gemm.MultiplyOnThisThread(false, true, count, width, hs, queries, QueryStride, kBase + ((long)low * kvs), kvs, scores, ld);
                for (int r = 0; r < count; r++)
                {
                    int t = t0 + r;
                    var (f, n) = VisibleKeys(firstKey, t, CausalKeyCount(t, Tq, Tk, Causal), low, keys);
                    float* row = scores + ((long)r * ld);
                    float logSumExp = float.PositiveInfinity;
                    rowScale[r] = 0f;
                    if (n > f)
                    {
                        // p_j = exp(scale·s_j − scale·max) unnormalized, in one pass of exponentials; the output row is
                        // divided by Σ p afterwards (hs values instead of the row's keys)
                        float* seen = row + (f - low);
                        float scale = ScoresFinished(seen, Scale, Bias == null ? null : Bias + ((((long)h * Tq) + t) * Tk) + f, mask == null ? null : mask + f, n - f);
                        float max = VectorMath.Max(seen, n - f);
                        if (max == float.NegativeInfinity)
                        {
                            n = f; // every key masked: output stays 0
                        }
                        else
                        {
                            float sum = VectorMath.ExpSum(seen, scale, scale * max, seen, n - f);
                            rowScale[r] = 1f / sum;
                            logSumExp = (scale * max) + MathF.Log(sum);
                        }
                    }
                    Lse[((long)bh * Tq) + t] = logSumExp;
                    // keys the block computed but this row does not see (another document's, or after it) weigh 0
                    new Span<float>(row, f - low).Clear();
                    new Span<float>(row + (n - low), keys - n).Clear();
                }
                Gemm.MultiplyOnThisThread(false, false, count, hs, width, scores, ld, vBase + ((long)low * kvs), kvs, outputs, (int)outStride);
                for (int r = 0; r < count; r++) VectorMath.ScaleInPlace(outputs + ((long)r * outStride), rowScale[r], hs);
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
            int Tq = QueryCount, Tk = KeyCount, hs = HeadSize, kvs = KeyValueStride, groupSize = HeadCount / KeyValueHeadCount;
            int outStride = HeadCount * hs;
            float scale = Scale;
            float* p = ThreadScratch.Floats(2L * QueryBlock * Tk); // probabilities of the block's rows, (count, width)
            float* ds = p + ((long)QueryBlock * Tk);              // output-gradient·value products, then score gradients (× scale)
            for (int unit = start; unit < end; unit++)
            {
                int g = BiasGrad == null ? unit % KeyValueHeadCount : unit;
                int firstBatch = BiasGrad == null ? unit / KeyValueHeadCount : 0;
                int endBatch = BiasGrad == null ? firstBatch + 1 : BatchSize;
                for (int b = firstBatch; b < endBatch; b++)
                {
                    long queryOffset = (long)b * Tq * QueryStride, keyValueOffset = ((long)b * Tk * kvs) + (g * hs);
                    float* kBase = Key + keyValueOffset;
                    float* vBase = Value + keyValueOffset;
                    float* dkBase = KeyGrad + keyValueOffset;
                    float* dvBase = ValueGrad + keyValueOffset;
                    for (int j = 0; j < Tk; j++)
                    {
                        new Span<float>(dkBase + ((long)j * kvs), hs).Clear();
                        new Span<float>(dvBase + ((long)j * kvs), hs).Clear();
                    }
                    int* mask = Mask == null ? null : Mask + ((long)b * Tk);
                    int* firstKey = FirstKey == null ? null : FirstKey + ((long)b * Tq);
                    for (int h = g * groupSize; h < (g + 1) * groupSize; h++)
                    {
                        float* lseRow = Lse + ((((long)b * HeadCount) + h) * Tq);
                        for (int t0 = 0; t0 < Tq; t0 += QueryBlock)
                        {
                            int count = Math.Min(QueryBlock, Tq - t0);
                            float* queries = Query + queryOffset + (h * hs) + ((long)t0 * QueryStride);
                            float* queryGrads = QueryGrad + queryOffset + (h * hs) + ((long)t0 * QueryStride);
                            long outOffset = ((((long)b * Tq) + t0) * outStride) + (h * hs);
                            float* outputGrads = OutputGrad + outOffset;
                            int keys = CausalKeyCount(t0 + count - 1, Tq, Tk, Causal);
                            int low = BlockLow(firstKey, t0, count, keys);
                            int width = keys - low, ld = Math.Max(1, width); // ld: the score rows' stride (a product needs ≥ 1)
                            float* keysFrom = kBase + ((long)low * kvs);
                            float* valuesFrom = vBase + ((long)low * kvs);
                            Gemm.MultiplyOnThisThread(false, true, count, width, hs, queries, QueryStride, keysFrom, kvs, p, ld);
                            Gemm.MultiplyOnThisThread(false, true, count, width, hs, outputGrads, outStride, valuesFrom, kvs, ds, ld);
                            for (int r = 0; r < count; r++)
                            {
                                int t = t0 + r;
                                var (f, n) = VisibleKeys(firstKey, t, CausalKeyCount(t, Tq, Tk, Causal), low, keys);
                                float* pRow = p + ((long)r * ld);
                                float* dsRow = ds + ((long)r * ld);
                                if (n > f)
                                {
                                    long biasRow = ((((long)h * Tq) + t) * Tk) + f;
                                    float* seen = pRow + (f - low);
                                    float factor = ScoresFinished(seen, scale, Bias == null ? null : Bias + biasRow, mask == null ? null : mask + f, n - f);
                                    float d = VectorMath.Dot(outputGrads + ((long)r * outStride), Output + outOffset + ((long)r * outStride), hs);
                                    ScoreGradient(seen, factor, lseRow[t], dsRow + (f - low), d, scale, BiasGrad == null ? null : BiasGrad + biasRow, n - f);
                                }
                                else
                                {
                                    n = f;
                                }
                                new Span<float>(pRow, f - low).Clear();
                                new Span<float>(dsRow, f - low).Clear();
                                new Span<float>(pRow + (n - low), keys - n).Clear();
                                new Span<float>(dsRow + (n - low), keys - n).Clear();
                            }
                            // dq = ds·K ; dk += dsᵀ·Q ; dv += pᵀ·dout
                            Gemm.MultiplyOnThisThread(false, false, count, hs, width, ds, ld, keysFrom, kvs, queryGrads, QueryStride);
                            Gemm.MultiplyOnThisThread(true, false, width, hs, count, ds, ld, queries, QueryStride, dkBase + ((long)low * kvs), kvs, accumulate: true);
                            Gemm.MultiplyOnThisThread(true, false, width, hs, count, p, ld, outputGrads, outStride, dvBase + ((long)low * kvs), kvs, accumulate: true);
                        }
                    }
                }
            }
        }
    }
}
