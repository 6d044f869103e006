using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Multi-head attention (self or cross, grouped-query, causal or not, with an optional key mask, additive position
/// bias and first visible key per query for packed documents) without storing the (Tq,Tk) attention matrix: the
/// forward keeps only each softmax row's log-sum-exp, and the backward recomputes the probabilities from q, k and it
/// (as FlashAttention does). The matrix work runs on the GEMM micro-kernel, tile by tile (<see cref="GemmKernel.MultiplyTile"/>):
/// a unit of work packs its head's keys and values into the micro-kernel's panels once (<see cref="GemmPacking"/>) and
/// reuses them for every block of <see cref="QueryBlock"/> queries, so only the block's own operands are packed per
/// block. A block computes the scores S = Q·Kᵀ over the keys it needs (from its queries' lowest first key to its last
/// query's causal end), then O = P·V; the backward's dP = dO·Vᵀ, dQ = dS·K, dK += dSᵀ·Q and dV += Pᵀ·dO likewise.
/// Under a causal mask a tile of Mr queries skips the keys past its last query: score tiles wholly in the future are
/// not computed, and the products over keys stop at each tile's causal end (over queries, start at its first
/// query that sees them), so the triangle above the diagonal costs at most a tile's width. Each row's softmax runs over its own
/// visible range; the block's other keys weigh 0. Everything lives in per-thread scratch (<see cref="ThreadScratch"/>).
/// </summary>
internal static unsafe class Attention
{
    // A multiple of the micro-kernel's Mr (6) rows. The causal triangle is skipped tile by tile whatever the block size;
    // the block bounds the scratch (its score rows are QueryBlock × Tk floats).
    internal const int QueryBlock = 48;

    // query (B,Tq,Wq), keyValue (B,Tk,Wkv) with heads placed by layout; keyMask (B,Tk) or null; positionBias (NH,Tq,Tk)
    // or null; firstKey (B,Tq) in [0, Tk] or null; output (B,Tq,NH·hs); lse (B,NH,Tq). With s_tj = scale·(q_t·k_j) +
    // bias[h,t,j] over the visible keys j (causal, unmasked, j >= firstKey[b,t]):
    // out[b,t,h] = Σ_j softmax_j(s_t) v_j ; lse[b,h,t] = log Σ_j exp(s_tj), +∞ for a query that sees no key (its output
    // is 0, and exp(s − lse) = 0 makes its backward vanish).
    // A unit of work is a run of one head's query blocks: the whole head unless there are fewer heads than 4 per worker.
    public static void Forward(WorkerPool pool, float* output, float* lse, float* query, float* keyValue, int* keyMask, float* positionBias,
        int* firstKey, int batchSize, int queryCount, int keyCount, int queryWidth, int keyValueWidth, in AttentionLayout layout)
    {
        int blocks = (queryCount + QueryBlock - 1) / QueryBlock;
        int heads = batchSize * layout.HeadCount;
        int runs = Math.Clamp(((4 * pool.WorkerCount) + heads - 1) / Math.Max(1, heads), 1, Math.Max(1, blocks));
        int blocksPerRun = (blocks + runs - 1) / runs;
        var op = new ForwardBlocks
        {
            Output = output, Lse = lse, Query = query + layout.QueryColumn, Key = keyValue + layout.KeyColumn,
            Value = keyValue + layout.ValueColumn, Mask = keyMask, Bias = positionBias, FirstKey = firstKey,
            QueryCount = queryCount, KeyCount = keyCount, QueryStride = queryWidth, KeyValueStride = keyValueWidth,
            HeadCount = layout.HeadCount, GroupSize = layout.HeadCount / layout.KeyValueHeadCount, HeadSize = layout.HeadSize,
            Blocks = blocks, BlocksPerRun = blocksPerRun, RunsPerHead = (blocks + blocksPerRun - 1) / blocksPerRun,
            Causal = layout.Causal, Scale = layout.Scale,
        };
        if (blocks > 0) pool.Run(heads * op.RunsPerHead, 1, ref op);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    // Whole 64-byte lines, so that every scratch region after the first starts on one. (A region that PackA fills has 16
    // floats of slack added: its vectorized path stores 2 floats past the last panel.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Lines(long floats) => (floats + 15) & ~15L;

    // The first 64-byte boundary in this thread's scratch of at least floats + 16.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* AlignedScratch(long floats) => (float*)(((nint)ThreadScratch.Floats(floats + 16) + 63) & ~(nint)63);

    // S[Mr-row panels of the block, columns [0, width)] = packedA · the key panels from key `from` (a multiple of Nr), tile
    // by tile, skipping the tiles whose first key no query of the row panel sees (past its last query's causal end: those
    // scores are never read). packedA holds the block's rows padded to Mr (zeros), S has at least as many rows and a
    // multiple of Nr columns, so every tile is whole.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreTiles(float* packedA, float* keyPanels, int hs, float* scores, int ld, int from, int width, int t0, int count,
        int queryCount, int keyCount, bool causal, float* edge)
    {
        int mr = GemmKernel.Mr, nr = GemmKernel.Nr;
        for (int jr = 0; jr < width; jr += nr)
        {
            float* panel = keyPanels + ((long)(from + jr) * hs);
            for (int ir = 0; ir < count; ir += mr)
            {
                if (from + jr >= CausalKeyCount(t0 + Math.Min(ir + mr, count) - 1, queryCount, keyCount, causal)) continue;
                GemmKernel.MultiplyTile(mr, nr, hs, packedA + ((long)ir * hs), panel, scores + ((long)ir * ld) + jr, ld, false, null, edge);
            }
        }
    }

    // C (count rows, hs columns, leading dimension ldc) = A · B over the block's keys: A packed as Mr-row panels of depth width
    // (packedA, from PackA over the score rows), B the head's panels of hs columns over its keys (keyRows: [hs/Nr][keys][Nr],
    // panelStride floats apart), starting at key `from`. Each row panel stops at its last query's causal end (A is 0 past
    // it); a row panel that sees no key gets zeros. Depth runs in Kc steps so a B panel's slice stays in L1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeyDepthTiles(float* packedA, int width, float* keyRows, long panelStride, int from, int hs, float* c, int ldc,
        int t0, int count, int queryCount, int keyCount, bool causal, float* edge)
    {
        int mr = GemmKernel.Mr, nr = GemmKernel.Nr, kcMax = GemmKernel.Kc;
        for (int jr = 0; jr < hs; jr += nr)
        {
            int columns = Math.Min(nr, hs - jr);
            float* panel = keyRows + ((jr / nr) * panelStride) + ((long)from * nr);
            for (int ir = 0; ir < count; ir += mr)
            {
                int rows = Math.Min(mr, count - ir);
                int depth = Math.Min(width, CausalKeyCount(t0 + ir + rows - 1, queryCount, keyCount, causal) - from);
                float* tile = c + ((long)ir * ldc) + jr;
                if (depth <= 0)
                {
                    for (int r = 0; r < rows; r++) new Span<float>(tile + ((long)r * ldc), columns).Clear();
                    continue;
                }
                for (int pc = 0; pc < depth; pc += kcMax)
                {
                    int kc = Math.Min(kcMax, depth - pc);
                    GemmKernel.MultiplyTile(rows, columns, kc, packedA + ((long)ir * width) + ((long)pc * mr), panel + ((long)pc * nr), tile, ldc, pc > 0, null, edge);
                }
            }
        }
    }

    // C (width key rows from key `from`, hs columns, leading dimension ldc) += Aᵀ · B over the block's queries: A packed as
    // Mr-key panels of depth count (PackA of the transposed score rows), B the block's count rows of hs columns packed as
    // panels ([hs/Nr][count][Nr]). A key panel starts at the block's first query that sees its first key (the earlier
    // queries' scores are 0) and is skipped when none does.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QueryDepthTiles(float* packedA, int width, float* queryRows, int hs, float* c, int ldc, int from,
        int t0, int count, int queryCount, int keyCount, bool causal, float* edge)
    {
        int mr = GemmKernel.Mr, nr = GemmKernel.Nr;
        for (int jr = 0; jr < hs; jr += nr)
        {
            int columns = Math.Min(nr, hs - jr);
            float* panel = queryRows + ((long)jr * count);
            for (int ir = 0; ir < width; ir += mr)
            {
                // query t sees key j when j < t + 1 + Tk − Tq: the first one is t = j − (Tk − Tq)
                int first = causal ? Math.Clamp(from + ir - (keyCount - queryCount) - t0, 0, count) : 0;
                if (first >= count) continue;
                GemmKernel.MultiplyTile(Math.Min(mr, width - ir), columns, count - first, packedA + ((long)ir * count) + ((long)first * mr),
                    panel + ((long)first * nr), c + ((long)(from + ir) * ldc) + jr, ldc, true, null, edge);
            }
        }
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
        public int QueryCount, KeyCount, QueryStride, KeyValueStride, HeadCount, GroupSize, HeadSize, Blocks, BlocksPerRun, RunsPerHead;
        public bool Causal;
        public float Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int Tq = QueryCount, Tk = KeyCount, hs = HeadSize, kvs = KeyValueStride, mr = GemmKernel.Mr, nr = GemmKernel.Nr;
            int outStride = HeadCount * hs;
            int blockRows = RoundUp(QueryBlock, mr), paddedKeys = RoundUp(Tk, nr), paddedHead = RoundUp(hs, nr);
            long keyFloats = Lines((long)paddedKeys * hs), valueFloats = Lines((long)paddedHead * Tk), queryFloats = Lines(((long)blockRows * hs) + 16);
            long scoreFloats = Lines((long)blockRows * paddedKeys), probabilityFloats = Lines(((long)blockRows * Tk) + 16);
            float* packedK = AlignedScratch(keyFloats + valueFloats + queryFloats + scoreFloats + probabilityFloats + Lines(QueryBlock) + (mr * nr));
            float* packedV = packedK + keyFloats;           // the head's values as rows of O = P·V: [hs/Nr][keys][Nr]
            float* packedQ = packedV + valueFloats;         // the block's queries as rows of S = Q·Kᵀ: [rows/Mr][hs][Mr]
            float* scores = packedQ + queryFloats;          // the block's score rows, then unnormalized probabilities
            float* packedP = scores + scoreFloats;          // the probabilities as rows of O = P·V: [rows/Mr][width][Mr]
            float* rowScale = packedP + probabilityFloats;  // 1 / Σ p per row (0: the row sees no key)
            float* edge = rowScale + Lines(QueryBlock);
            for (int unit = start; unit < end; unit++)
            {
                int run = unit % RunsPerHead;
                int bh = unit / RunsPerHead;
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                int g = h / GroupSize;
                int firstBlock = run * BlocksPerRun, endBlock = Math.Min(Blocks, firstBlock + BlocksPerRun);
                float* kBase = Key + ((long)b * Tk * kvs) + (g * hs);
                float* vBase = Value + ((long)b * Tk * kvs) + (g * hs);
                int* mask = Mask == null ? null : Mask + ((long)b * Tk);
                int* firstKey = FirstKey == null ? null : FirstKey + ((long)b * Tq);
                // the run's keys: up to its last query's causal end, packed once for all its blocks
                int runKeys = CausalKeyCount(Math.Min(Tq, endBlock * QueryBlock) - 1, Tq, Tk, Causal);
                GemmPacking.PackB(true, kBase, kvs, 0, 0, hs, runKeys, packedK);
                GemmPacking.PackB(false, vBase, kvs, 0, 0, runKeys, hs, packedV);
                for (int block = firstBlock; block < endBlock; block++)
                {
                    int t0 = block * QueryBlock;
                    int count = Math.Min(QueryBlock, Tq - t0);
                    float* outputs = Output + ((((long)b * Tq) + t0) * outStride) + (h * hs);
                    // the block computes keys [from, keys): the last query sees the most, the lowest first key (down to a
                    // panel boundary) starts them
                    int keys = CausalKeyCount(t0 + count - 1, Tq, Tk, Causal);
                    int low = BlockLow(firstKey, t0, count, keys);
                    int from = low / nr * nr, width = keys - from, ld = RoundUp(width, nr);
                    GemmPacking.PackA(false, Query + ((long)b * Tq * QueryStride) + (h * hs) + ((long)t0 * QueryStride), QueryStride, 0, 0, count, hs, packedQ);
                    ScoreTiles(packedQ, packedK, hs, scores, ld, from, width, t0, count, Tq, Tk, Causal, edge);
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
                            float* seen = row + (f - from);
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
                        // keys the block computed (or skipped) but this row does not see (another document's, or after it) weigh 0
                        new Span<float>(row, f - from).Clear();
                        new Span<float>(row + (n - from), keys - n).Clear();
                    }
                    if (width > 0) GemmPacking.PackA(false, scores, ld, 0, 0, count, width, packedP);
                    KeyDepthTiles(packedP, width, packedV, (long)runKeys * nr, from, hs, outputs, outStride, t0, count, Tq, Tk, Causal, edge);
                    for (int r = 0; r < count; r++) VectorMath.ScaleInPlace(outputs + ((long)r * outStride), rowScale[r], hs);
                }
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
            int mr = GemmKernel.Mr, nr = GemmKernel.Nr;
            int outStride = HeadCount * hs;
            float scale = Scale;
            int blockRows = RoundUp(QueryBlock, mr), paddedKeys = RoundUp(Tk, nr), paddedHead = RoundUp(hs, nr);
            long columnFloats = Lines((long)paddedKeys * hs), rowFloats = Lines((long)paddedHead * Tk), blockFloats = Lines(((long)blockRows * hs) + 16);
            long blockRowFloats = Lines((long)paddedHead * QueryBlock), scoreFloats = Lines((long)blockRows * paddedKeys);
            long packedFloats = Lines(Math.Max((long)blockRows * Tk, (long)RoundUp(Tk, mr) * QueryBlock) + 16);
            float* keyColumns = AlignedScratch((2 * columnFloats) + rowFloats + (2 * blockFloats) + (2 * blockRowFloats) + (2 * scoreFloats) + packedFloats + (mr * nr));
            float* valueColumns = keyColumns + columnFloats;   // keys, values as columns of S = Q·Kᵀ, dP = dO·Vᵀ: [keys/Nr][hs][Nr]
            float* keyRows = valueColumns + columnFloats;       // keys as rows of dQ = dS·K: [hs/Nr][keys][Nr]
            float* packedQ = keyRows + rowFloats;               // the block's queries, output gradients as rows of S, dP: [rows/Mr][hs][Mr]
            float* packedDo = packedQ + blockFloats;
            float* queryRows = packedDo + blockFloats;          // the block's queries, output gradients as rows of dK, dV: [hs/Nr][count][Nr]
            float* doRows = queryRows + blockRowFloats;
            float* p = doRows + blockRowFloats;                 // probabilities of the block's rows, (rows, ld)
            float* ds = p + scoreFloats;                        // output-gradient·value products, then score gradients (× scale)
            float* packedA = ds + scoreFloats;                  // dS, then dSᵀ, then Pᵀ packed as the left operand
            float* edge = packedA + packedFloats;
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
                    GemmPacking.PackB(true, kBase, kvs, 0, 0, hs, Tk, keyColumns);
                    GemmPacking.PackB(true, vBase, kvs, 0, 0, hs, Tk, valueColumns);
                    GemmPacking.PackB(false, kBase, kvs, 0, 0, Tk, hs, keyRows);
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
                            int from = low / nr * nr, width = keys - from, ld = RoundUp(width, nr);
                            GemmPacking.PackA(false, queries, QueryStride, 0, 0, count, hs, packedQ);
                            GemmPacking.PackA(false, outputGrads, outStride, 0, 0, count, hs, packedDo);
                            ScoreTiles(packedQ, keyColumns, hs, p, ld, from, width, t0, count, Tq, Tk, Causal, edge);
                            ScoreTiles(packedDo, valueColumns, hs, ds, ld, from, width, t0, count, Tq, Tk, Causal, edge);
                            for (int r = 0; r < count; r++)
                            {
                                int t = t0 + r;
                                var (f, n) = VisibleKeys(firstKey, t, CausalKeyCount(t, Tq, Tk, Causal), low, keys);
                                float* pRow = p + ((long)r * ld);
                                float* dsRow = ds + ((long)r * ld);
                                if (n > f)
                                {
                                    long biasRow = ((((long)h * Tq) + t) * Tk) + f;
                                    float* seen = pRow + (f - from);
                                    float factor = ScoresFinished(seen, scale, Bias == null ? null : Bias + biasRow, mask == null ? null : mask + f, n - f);
                                    float d = VectorMath.Dot(outputGrads + ((long)r * outStride), Output + outOffset + ((long)r * outStride), hs);
                                    ScoreGradient(seen, factor, lseRow[t], dsRow + (f - from), d, scale, BiasGrad == null ? null : BiasGrad + biasRow, n - f);
                                }
                                else
                                {
                                    n = f;
                                }
                                new Span<float>(pRow, f - from).Clear();
                                new Span<float>(dsRow, f - from).Clear();
                                new Span<float>(pRow + (n - from), keys - n).Clear();
                                new Span<float>(dsRow + (n - from), keys - n).Clear();
                            }
                            if (width == 0)
                            {
                                for (int r = 0; r < count; r++) new Span<float>(queryGrads + ((long)r * QueryStride), hs).Clear();
                                continue;
                            }
                            // dq = ds·K ; dk += dsᵀ·Q ; dv += pᵀ·dout
                            GemmPacking.PackA(false, ds, ld, 0, 0, count, width, packedA);
                            KeyDepthTiles(packedA, width, keyRows, (long)Tk * nr, from, hs, queryGrads, QueryStride, t0, count, Tq, Tk, Causal, edge);
                            GemmPacking.PackB(false, queries, QueryStride, 0, 0, count, hs, queryRows);
                            GemmPacking.PackB(false, outputGrads, outStride, 0, 0, count, hs, doRows);
                            GemmPacking.PackA(true, ds, ld, 0, 0, width, count, packedA);
                            QueryDepthTiles(packedA, width, queryRows, hs, dkBase, kvs, from, t0, count, Tq, Tk, Causal, edge);
                            GemmPacking.PackA(true, p, ld, 0, 0, width, count, packedA);
                            QueryDepthTiles(packedA, width, doRows, hs, dvBase, kvs, from, t0, count, Tq, Tk, Causal, edge);
                        }
                    }
                }
            }
        }
    }
}
