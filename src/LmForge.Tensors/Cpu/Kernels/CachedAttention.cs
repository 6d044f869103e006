using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Attention over a KV cache, for inference (no backward, nothing saved). Write stores the new tokens' key and value
/// heads at their (slot, position); Forward lets each new row's query heads attend to its slot's positions up to its own.
/// Forward is FlashAttention's online softmax over tiles of keys: each query keeps a running max, normalizer and output,
/// rescaled when the max grows, so no score row outlives a tile and the cache length is not bounded by the stack. A unit
/// of work is a block of consecutive rows and a chunk of kv heads (see <see cref="Forward"/>): the group's query heads,
/// and the rows of one sequence at consecutive positions (a prefill), attend together so every k and v row loaded serves
/// all of them.
/// </summary>
internal static unsafe class CachedAttention
{
    private const int KeyTile = 64;      // keys scored, softmaxed and summed per step in a prefill
    private const int DecodeKeyTile = 16; // in a decode step: short tiles keep a head chunk's reads close together
    private const int MaxQueries = 32;   // (row, head) queries attending together: bounds the stack
    private const int MaxBlockRows = 8;  // rows per unit, when there are enough units to keep every worker busy

    // keyCache, valueCache (S,Tmax,NKV·hs); qkv (N,W) holds key heads at keyColumn and value heads at valueColumn;
    // slots and positions (N) are already checked to lie inside the cache. Row n's heads go to entry [slots[n], positions[n]].
    public static void Write(WorkerPool pool, float* keyCache, float* valueCache, float* qkv, int* slots, int* positions,
        int rows, int width, int cacheLength, int keyColumn, int valueColumn, int keyValueWidth)
    {
        var op = new WriteRows
        {
            KeyCache = keyCache, ValueCache = valueCache, Key = qkv + keyColumn, Value = qkv + valueColumn, Slots = slots,
            Positions = positions, Width = width, CacheLength = cacheLength, KeyValueWidth = keyValueWidth,
        };
        pool.Run(rows, Math.Max(1, 32768 / keyValueWidth), ref op);
    }

    // output (N,NH·hs); qkv (N,W) holds query heads at layout.QueryColumn; keyCache, valueCache (S,Tmax,NKV·hs); slots and
    // positions (N) checked, maxPosition their largest position. With k_j, v_j kv head h / (NH/NKV) of slot slots[n]:
    // out[n,h] = Σ_{j ≤ positions[n]} softmax_j(scale·q_nh·k_j + distanceBias[h, positions[n] − j]) v_j, the bias (NH, biasLength)
    // optional (null: none).
    public static void Forward(WorkerPool pool, float* output, float* qkv, float* keyCache, float* valueCache, int* slots, int* positions,
        int rows, int width, int cacheLength, int maxPosition, in AttentionLayout layout, float* distanceBias = null, int biasLength = 0)
    {
        if (rows == 0) return;
        int keyValueHeads = layout.KeyValueHeadCount, group = layout.HeadCount / keyValueHeads, hs = layout.HeadSize;
        int workers = pool.WorkerCount;
        // Rows first: blocks of rows, which share k and v when they are one sequence's consecutive positions. When one
        // sequence's rows span several blocks (a prefill), each unit takes one kv head, and a worker's consecutive units are
        // that head's blocks, whose k and v stay in its L2. Otherwise (a decode step) each unit takes a chunk of kv heads,
        // as many chunks as it takes to keep the workers busy: a unit then reads a stretch of each k and v row rather than
        // one head's hs floats at a stride of NKV·hs, which the hardware prefetcher follows poorly (3x slower from memory).
        int blockRows = Math.Clamp(rows / (2 * workers), 1, Math.Clamp(MaxQueries / group, 1, MaxBlockRows));
        int blocks = (rows + blockRows - 1) / blockRows;
        bool prefill = blockRows > 1 && (long)rows > (long)blockRows * CountRuns(slots, positions, rows);
        int chunks = prefill ? keyValueHeads : Math.Clamp((workers + blocks - 1) / blocks, 1, keyValueHeads);
        int chunkHeads = (keyValueHeads + chunks - 1) / chunks;
        chunks = (keyValueHeads + chunkHeads - 1) / chunkHeads;
        var op = new ForwardUnits
        {
            Output = output, Query = qkv + layout.QueryColumn, KeyCache = keyCache, ValueCache = valueCache, Slots = slots,
            Positions = positions, Rows = rows, Width = width, CacheLength = cacheLength, KeyValueHeadCount = keyValueHeads,
            HeadCount = layout.HeadCount, GroupSize = group, HeadSize = hs, BlockRows = blockRows, Blocks = blocks, ChunkHeads = chunkHeads,
            Tile = prefill ? KeyTile : DecodeKeyTile, Scale = layout.Scale, DistanceBias = distanceBias, BiasLength = biasLength,
        };
        long unitWork = (long)blockRows * chunkHeads * group * (maxPosition + 1L) * hs;
        pool.Run(blocks * chunks, (int)Math.Max(1, 65536 / Math.Max(1, unitWork)), ref op);
    }

    // The number of runs: maximal stretches of rows of one slot at consecutive positions.
    private static int CountRuns(int* slots, int* positions, int rows)
    {
        int runs = rows > 0 ? 1 : 0;
        for (int n = 1; n < rows; n++)
        {
            if (slots[n] != slots[n - 1] || positions[n] != positions[n - 1] + 1) runs++;
        }
        return runs;
    }

    private struct WriteRows : IRangeOperation
    {
        public float* KeyCache, ValueCache, Key, Value;
        public int* Slots, Positions;
        public int Width, CacheLength, KeyValueWidth;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long bytes = (long)KeyValueWidth * sizeof(float);
            for (int n = start; n < end; n++)
            {
                long entry = (((long)Slots[n] * CacheLength) + Positions[n]) * KeyValueWidth;
                long row = (long)n * Width;
                Buffer.MemoryCopy(Key + row, KeyCache + entry, bytes, bytes);
                Buffer.MemoryCopy(Value + row, ValueCache + entry, bytes, bytes);
            }
        }
    }

    private struct ForwardUnits : IRangeOperation
    {
        public float* Output, Query, KeyCache, ValueCache, DistanceBias;
        public int* Slots, Positions;
        public int Rows, Width, CacheLength, KeyValueHeadCount, HeadCount, GroupSize, HeadSize, BlockRows, Blocks, ChunkHeads, Tile, BiasLength;
        public float Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int hs = HeadSize;
            long keyValueWidth = (long)KeyValueHeadCount * hs, outStride = (long)HeadCount * hs;
            var scratch = new Scratch
            {
                Scores = stackalloc float[MaxQueries * KeyTile],
                Outputs = stackalloc float[MaxQueries * hs],
                Max = stackalloc float[MaxQueries],
                Sum = stackalloc float[MaxQueries],
                KeyCount = stackalloc int[MaxQueries],
                Query = stackalloc nint[MaxQueries],
                Destination = stackalloc nint[MaxQueries],
                Head = stackalloc int[MaxQueries],
            };
            for (int unit = start; unit < end; unit++)
            {
                int chunk = unit / Blocks;
                int first = unit % Blocks * BlockRows, last = Math.Min(first + BlockRows, Rows);
                int firstHead = chunk * ChunkHeads * GroupSize, endHead = Math.Min(firstHead + (ChunkHeads * GroupSize), HeadCount);
                for (int n = first; n < last;)
                {
                    // a run: consecutive rows of one slot at consecutive positions; its queries share every key row
                    int runEnd = n + 1;
                    while (runEnd < last && Slots[runEnd] == Slots[n] && Positions[runEnd] == Positions[runEnd - 1] + 1) runEnd++;
                    long slot = (long)Slots[n] * CacheLength * keyValueWidth;
                    // queries in head order, each head's rows together, so four in a row usually share a kv head
                    int count = 0;
                    for (int h = firstHead; h < endHead; h++)
                    {
                        for (int r = n; r < runEnd; r++)
                        {
                            if (count == MaxQueries)
                            {
                                Attend(scratch, count, Positions[runEnd - 1] + 1, KeyCache + slot, ValueCache + slot, keyValueWidth, hs, GroupSize, Tile, Scale, DistanceBias, BiasLength);
                                count = 0;
                            }
                            scratch.Query[count] = (nint)(Query + ((long)r * Width) + (h * hs));
                            scratch.Destination[count] = (nint)(Output + (r * outStride) + (h * hs));
                            scratch.KeyCount[count] = Positions[r] + 1;
                            scratch.Head[count] = h;
                            count++;
                        }
                    }
                    Attend(scratch, count, Positions[runEnd - 1] + 1, KeyCache + slot, ValueCache + slot, keyValueWidth, hs, GroupSize, Tile, Scale, DistanceBias, BiasLength);
                    n = runEnd;
                }
            }
        }
    }

    // A worker's stack scratch for up to MaxQueries queries: query i is query head Head[i], reads its q at Query[i], sees
    // keys [0, KeyCount[i]) and writes Destination[i]; Scores row i (the tile length) holds its current tile, Outputs row i (hs)
    // its unnormalized output, Max and Sum its softmax's running max and normalizer.
    private ref struct Scratch
    {
        public Span<float> Scores, Outputs, Max, Sum;
        public Span<int> KeyCount, Head;
        public Span<nint> Query, Destination;
    }

    // count queries over keys [0, keys) of one slot: kv head g's key j at key + j·stride + g·hs, its value likewise.
    // Key tiles outermost: every head of the chunk reads the same few rows before the next tile.
    // With distanceBias, query i's score for key j gains distanceBias[head, (KeyCount[i] − 1) − j] (its distance back to key j).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Attend(in Scratch scratch, int count, int keys, float* key, float* value, long stride, int hs, int group, int keyTile, float scale,
        float* distanceBias, int biasLength)
    {
        fixed (float* scores = scratch.Scores, outputs = scratch.Outputs, max = scratch.Max, sum = scratch.Sum)
        fixed (int* keyCount = scratch.KeyCount, head = scratch.Head)
        fixed (nint* query = scratch.Query)
        {
            float** q = (float**)query;
            for (int i = 0; i < count; i++)
            {
                max[i] = float.NegativeInfinity;
                sum[i] = 0f;
            }
            new Span<float>(outputs, count * hs).Clear();
            for (int j0 = 0; j0 < keys; j0 += keyTile)
            {
                int tile = Math.Min(keyTile, keys - j0);
                long tileOffset = j0 * stride;
                for (int i = 0; i < count;)
                {
                    float* k = key + tileOffset + (head[i] / group * hs);
                    if (i + 4 <= count && head[i + 3] / group == head[i] / group)
                    {
                        ScoreFourQueries(k, stride, tile, q + i, hs, scale, scores + (i * keyTile), keyTile);
                        i += 4;
                    }
                    else
                    {
                        ScoreOneQuery(k, stride, tile, q[i], hs, scale, scores + (i * keyTile));
                        i++;
                    }
                }

                // online softmax: rescale what was summed under the old max, then add this tile's exp(s − max)
                for (int i = 0; i < count; i++)
                {
                    float* row = scores + (i * keyTile);
                    int visible = Math.Clamp(keyCount[i] - j0, 0, tile);
                    if (visible > 0 && distanceBias != null)
                    {
                        float* bias = distanceBias + ((long)head[i] * biasLength) + (keyCount[i] - 1 - j0);
                        for (int j = 0; j < visible; j++) row[j] += bias[-j];
                    }
                    if (visible > 0)
                    {
                        float tileMax = VectorMath.Max(row, visible);
                        if (tileMax > max[i])
                        {
                            if (sum[i] != 0f)
                            {
                                float correction = MathF.Exp(max[i] - tileMax);
                                sum[i] *= correction;
                                VectorMath.ScaleInPlace(outputs + (i * hs), correction, hs);
                            }
                            max[i] = tileMax;
                        }
                        VectorMath.ExpScale(row, max[i], 1f, row, visible);
                        sum[i] += VectorMath.Sum(row, visible);
                    }
                    new Span<float>(row + visible, tile - visible).Clear(); // keys after the query's position weigh 0
                }

                for (int i = 0; i < count;)
                {
                    float* v = value + tileOffset + (head[i] / group * hs);
                    if (i + 4 <= count && head[i + 3] / group == head[i] / group)
                    {
                        AttentionRows.WeightedSum4(scores + (i * keyTile), keyTile, v, stride, tile,
                            outputs + (i * hs), outputs + ((i + 1) * hs), outputs + ((i + 2) * hs), outputs + ((i + 3) * hs), hs);
                        i += 4;
                    }
                    else
                    {
                        AccumulateOneQuery(scores + (i * keyTile), v, stride, tile, outputs + (i * hs), hs);
                        i++;
                    }
                }
            }
            for (int i = 0; i < count; i++) ScaleTo(outputs + (i * hs), 1f / sum[i], (float*)scratch.Destination[i], hs);
        }
    }

    // scores[j] = scale·(q·k_j) for j < count, k_j at k + j·stride: four keys at a time against the one query.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreOneQuery(float* k, long stride, int count, float* q, int hs, float scale, float* scores)
    {
        int j = 0;
        for (; j + 4 <= count; j += 4, k += 4 * stride)
            (Dot4(q, k, k + stride, k + (2 * stride), k + (3 * stride), hs) * scale).Store(scores + j);
        for (; j < count; j++, k += stride) scores[j] = VectorMath.Dot(q, k, hs) * scale;
    }

    // scores[r·scoreStride + j] = scale·(q_r·k_j) for r < 4, j < count: each key row is loaded once for the four queries.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreFourQueries(float* k, long stride, int count, float** q, int hs, float scale, float* scores, int scoreStride)
    {
        float* q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
        for (int j = 0; j < count; j++, k += stride)
        {
            var s = Dot4(k, q0, q1, q2, q3, hs) * scale;
            scores[j] = s.GetElement(0);
            scores[scoreStride + j] = s.GetElement(1);
            scores[(2 * scoreStride) + j] = s.GetElement(2);
            scores[(3 * scoreStride) + j] = s.GetElement(3);
        }
    }

    // (x·r0, x·r1, x·r2, x·r3) over n elements. Two accumulators per row (16 channels a step) keep eight FMA chains in
    // flight; the four sums are reduced together by horizontal adds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Dot4(float* x, float* r0, float* r1, float* r2, float* r3, int n)
    {
        int i = 0;
        var result = Vector128<float>.Zero;
        if (VectorMath.IsAccelerated && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            for (; i <= n - 16; i += 16)
            {
                var x0 = Vector256.Load(x + i);
                var x1 = Vector256.Load(x + i + 8);
                a0 = VectorMath.MultiplyAdd(x0, Vector256.Load(r0 + i), a0);
                a1 = VectorMath.MultiplyAdd(x0, Vector256.Load(r1 + i), a1);
                a2 = VectorMath.MultiplyAdd(x0, Vector256.Load(r2 + i), a2);
                a3 = VectorMath.MultiplyAdd(x0, Vector256.Load(r3 + i), a3);
                b0 = VectorMath.MultiplyAdd(x1, Vector256.Load(r0 + i + 8), b0);
                b1 = VectorMath.MultiplyAdd(x1, Vector256.Load(r1 + i + 8), b1);
                b2 = VectorMath.MultiplyAdd(x1, Vector256.Load(r2 + i + 8), b2);
                b3 = VectorMath.MultiplyAdd(x1, Vector256.Load(r3 + i + 8), b3);
            }
            if (i <= n - 8)
            {
                var x0 = Vector256.Load(x + i);
                a0 = VectorMath.MultiplyAdd(x0, Vector256.Load(r0 + i), a0);
                a1 = VectorMath.MultiplyAdd(x0, Vector256.Load(r1 + i), a1);
                a2 = VectorMath.MultiplyAdd(x0, Vector256.Load(r2 + i), a2);
                a3 = VectorMath.MultiplyAdd(x0, Vector256.Load(r3 + i), a3);
                i += 8;
            }
            result = Sum4(a0 + b0, a1 + b1, a2 + b2, a3 + b3);
        }
        if (i < n)
        {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (; i < n; i++)
            {
                s0 += x[i] * r0[i];
                s1 += x[i] * r1[i];
                s2 += x[i] * r2[i];
                s3 += x[i] * r3[i];
            }
            result += Vector128.Create(s0, s1, s2, s3);
        }
        return result;
    }

    // (Σ a0, Σ a1, Σ a2, Σ a3): vhaddps pairs neighbours within each 128-bit half, twice, leaving each sum's halves in
    // one lane of the low and the high half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        if (Avx.IsSupported)
        {
            var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
            return sums.GetLower() + sums.GetUpper();
        }
        return Vector128.Create(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
    }

    // output += Σ_{j<count} p[j]·v_j, v_j at v + j·stride; output and the v rows are (hs). 32 channels at a time hold
    // the output in registers while the value rows stream past, two keys a step for eight FMA chains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateOneQuery(float* p, float* v, long stride, int count, float* output, int hs)
    {
        int i = 0;
        if (VectorMath.IsAccelerated)
        {
            for (; i <= hs - 32; i += 32)
            {
                var a0 = Vector256.Load(output + i);
                var a1 = Vector256.Load(output + i + 8);
                var a2 = Vector256.Load(output + i + 16);
                var a3 = Vector256.Load(output + i + 24);
                Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                float* src = v + i;
                int j = 0;
                for (; j + 2 <= count; j += 2, src += 2 * stride)
                {
                    var w0 = Vector256.Create(p[j]);
                    var w1 = Vector256.Create(p[j + 1]);
                    float* next = src + stride;
                    a0 = VectorMath.MultiplyAdd(w0, Vector256.Load(src), a0);
                    a1 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 8), a1);
                    a2 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 16), a2);
                    a3 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 24), a3);
                    b0 = VectorMath.MultiplyAdd(w1, Vector256.Load(next), b0);
                    b1 = VectorMath.MultiplyAdd(w1, Vector256.Load(next + 8), b1);
                    b2 = VectorMath.MultiplyAdd(w1, Vector256.Load(next + 16), b2);
                    b3 = VectorMath.MultiplyAdd(w1, Vector256.Load(next + 24), b3);
                }
                if (j < count)
                {
                    var w0 = Vector256.Create(p[j]);
                    a0 = VectorMath.MultiplyAdd(w0, Vector256.Load(src), a0);
                    a1 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 8), a1);
                    a2 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 16), a2);
                    a3 = VectorMath.MultiplyAdd(w0, Vector256.Load(src + 24), a3);
                }
                Vector256.Store(a0 + b0, output + i);
                Vector256.Store(a1 + b1, output + i + 8);
                Vector256.Store(a2 + b2, output + i + 16);
                Vector256.Store(a3 + b3, output + i + 24);
            }
            for (; i <= hs - 8; i += 8)
            {
                var a = Vector256.Load(output + i);
                float* src = v + i;
                for (int j = 0; j < count; j++, src += stride) a = VectorMath.MultiplyAdd(Vector256.Create(p[j]), Vector256.Load(src), a);
                Vector256.Store(a, output + i);
            }
        }
        for (; i < hs; i++)
        {
            float a = output[i];
            float* src = v + i;
            for (int j = 0; j < count; j++, src += stride) a += p[j] * *src;
            output[i] = a;
        }
    }

    // y[i] = x[i]·scale
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleTo(float* x, float scale, float* y, int n)
    {
        int i = 0;
        if (VectorMath.IsAccelerated)
        {
            var vs = Vector256.Create(scale);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(x + i) * vs, y + i);
        }
        for (; i < n; i++) y[i] = x[i] * scale;
    }
}
