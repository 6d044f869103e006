using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>
/// The KV cache (<see cref="IBackend.KeyValueCacheWrite"/>, <see cref="IBackend.CachedAttentionForward"/>): a whole batch
/// written and attended at once equals the training kernel's causal attention; a prefill followed by one-token decode
/// steps equals it row by row; a ragged batch (several slots at different positions, stale entries beyond them) equals a
/// double-precision reference; every argument check; no allocation per call.
/// </summary>
public sealed class CachedAttentionTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    // (NH, NKV, hs): grouped-query with a 16-wide head, GPT-2's head size, multi-query with a head size that leaves scalar
    // tails, four query heads per kv head with a head size of 32 + 8, and nine per kv head: more queries than the kernel
    // attends at once, and groups of four that straddle kv heads.
    public static TheoryData<int, int, int> Heads => new() { { 4, 2, 16 }, { 3, 3, 64 }, { 4, 1, 12 }, { 8, 2, 40 }, { 36, 4, 8 } };

    // |actual − expected| ≤ 1e-5 relative to max(|expected|, 1) (outputs are averages of values of order 1)
    private static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}] is {actual[i]}, expected {expected[i]}");
    }

    private static Tensor Cache(int slots, int length, in AttentionLayout layout)
    {
        var cache = Tensor.Allocate(slots, length, layout.KeyValueHeadCount * layout.HeadSize);
        cache.AsSpan().Fill(float.NaN); // an entry read before it is written poisons the output
        return cache;
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void Whole_batch_matches_causal_attention(int heads, int keyValueHeads, int headSize)
    {
        // 150 tokens: two full key tiles and a partial one; a cache longer than the sequences, and a spare slot
        const int batch = 3, tokens = 150;
        var layout = AttentionLayout.Fused(heads, keyValueHeads, headSize, causal: true);
        int outputWidth = heads * headSize;
        var random = TestData.NewRandom();
        using var qkv = TestData.Random(random, 2f, batch, tokens, layout.FusedWidth);
        using var expected = Tensor.Allocate(batch, tokens, outputWidth);
        using var lse = Tensor.Allocate(batch, heads, tokens);
        _backend.AttentionForward(expected, lse, qkv, qkv, layout);

        using var slots = TestData.Ints(Enumerable.Range(0, batch * tokens).Select(n => n / tokens).ToArray());
        using var positions = TestData.Ints(Enumerable.Range(0, batch * tokens).Select(n => n % tokens).ToArray());
        // pools of 1, 2 and 5 workers split the rows into blocks of different sizes
        foreach (int workers in new[] { 1, 2, 5 })
        {
            using var pool = new WorkerPool(workers);
            var backend = new CpuBackend(pool);
            using var keyCache = Cache(batch + 1, tokens + 10, layout);
            using var valueCache = Cache(batch + 1, tokens + 10, layout);
            using var output = Tensor.Allocate(batch * tokens, outputWidth);
            output.AsSpan().Fill(float.NaN);
            backend.KeyValueCacheWrite(keyCache, valueCache, qkv, layout, slots, positions);
            backend.CachedAttentionForward(output, qkv, keyCache, valueCache, layout, slots, positions);
            AssertClose(output.AsSpan(), expected.AsSpan(), $"{workers} workers: output");
        }
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void Prefill_then_decode_one_token_at_a_time_matches_causal_attention(int heads, int keyValueHeads, int headSize)
    {
        const int tokens = 100, prefix = 37, slot = 1;
        var layout = AttentionLayout.Fused(heads, keyValueHeads, headSize, causal: true);
        int width = layout.FusedWidth, outputWidth = heads * headSize;
        var random = TestData.NewRandom();
        using var qkv = TestData.Random(random, 2f, 1, tokens, width);
        using var expected = Tensor.Allocate(1, tokens, outputWidth);
        using var lse = Tensor.Allocate(1, heads, tokens);
        _backend.AttentionForward(expected, lse, qkv, qkv, layout);

        // pools of 1, 2 and 3 workers split a decode step's kv heads into different chunks
        foreach (int workers in new[] { 1, 2, 3 })
        {
            using var pool = new WorkerPool(workers);
            var backend = new CpuBackend(pool);
            using var keyCache = Cache(2, tokens, layout);
            using var valueCache = Cache(2, tokens, layout);
            using var output = Tensor.Allocate(tokens, outputWidth);
            using (var prefixRows = qkv.Slice(0, new TensorShape(prefix, width)))
            using (var prefixOutput = output.Slice(0, new TensorShape(prefix, outputWidth)))
            using (var slots = TestData.Ints(Enumerable.Repeat(slot, prefix).ToArray()))
            using (var positions = TestData.Ints(Enumerable.Range(0, prefix).ToArray()))
            {
                backend.KeyValueCacheWrite(keyCache, valueCache, prefixRows, layout, slots, positions);
                backend.CachedAttentionForward(prefixOutput, prefixRows, keyCache, valueCache, layout, slots, positions);
            }
            AssertClose(output.AsSpan()[..(prefix * outputWidth)], expected.AsSpan()[..(prefix * outputWidth)], $"{workers} workers: prefill");

            using var step = TestData.Ints([slot]);
            using var position = Tensor.AllocateInt32(1);
            for (int t = prefix; t < tokens; t++)
            {
                position.CopyFrom([t]);
                using var row = qkv.Slice((long)t * width, new TensorShape(1, width));
                using var rowOutput = output.Slice((long)t * outputWidth, new TensorShape(1, outputWidth));
                backend.KeyValueCacheWrite(keyCache, valueCache, row, layout, step, position);
                backend.CachedAttentionForward(rowOutput, row, keyCache, valueCache, layout, step, position);
                AssertClose(rowOutput.AsSpan(), expected.AsSpan().Slice(t * outputWidth, outputWidth), $"{workers} workers: decode step {t}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Ragged_batch_matches_a_double_precision_reference(int workers)
    {
        // GQA with a scale other than 1/√hs; queries at column 3 of rows whose values come before their keys
        const int slotCount = 4, length = 40, width = 75;
        var layout = new AttentionLayout(4, 2, 16, QueryColumn: 3, KeyColumn: 40, ValueColumn: 7, Causal: true, Scale: 0.3f);
        int keyValueWidth = 32, outputWidth = 64;
        var random = TestData.NewRandom();
        using var pool = new WorkerPool(workers);
        var backend = new CpuBackend(pool);
        using var keyCache = Cache(slotCount, length, layout);
        using var valueCache = Cache(slotCount, length, layout);
        var expectedKeys = new float[slotCount * length * keyValueWidth];
        var expectedValues = new float[slotCount * length * keyValueWidth];
        expectedKeys.AsSpan().Fill(float.NaN);
        expectedValues.AsSpan().Fill(float.NaN);

        void Write(Tensor rows, int[] slots, int[] positions)
        {
            using var s = TestData.Ints(slots);
            using var p = TestData.Ints(positions);
            backend.KeyValueCacheWrite(keyCache, valueCache, rows, layout, s, p);
            var r = rows.AsSpan();
            for (int n = 0; n < slots.Length; n++)
            {
                int entry = ((slots[n] * length) + positions[n]) * keyValueWidth;
                r.Slice((n * width) + layout.KeyColumn, keyValueWidth).CopyTo(expectedKeys.AsSpan(entry));
                r.Slice((n * width) + layout.ValueColumn, keyValueWidth).CopyTo(expectedValues.AsSpan(entry));
            }
        }

        // Slot 2 last held a longer sequence: its entries 5..29 are stale keys large enough to dominate any softmax they
        // entered. Then the history: slot 0 at positions 0..16, slot 1 at 0..38, slot 2 at 0..4, slot 3 empty, written in
        // one call in shuffled order.
        using (var stale = TestData.Random(random, 50f, 25, width))
            Write(stale, Enumerable.Repeat(2, 25).ToArray(), Enumerable.Range(5, 25).ToArray());
        var history = Enumerable.Range(0, 17).Select(t => (Slot: 0, Position: t))
            .Concat(Enumerable.Range(0, 39).Select(t => (Slot: 1, Position: t)))
            .Concat(Enumerable.Range(0, 5).Select(t => (Slot: 2, Position: t)))
            .OrderBy(_ => random.Next()).ToArray();
        using (var historyRows = TestData.Random(random, 1.5f, history.Length, width))
            Write(historyRows, history.Select(e => e.Slot).ToArray(), history.Select(e => e.Position).ToArray());

        // The new rows: slot 2's next token and, further down, the one after it (which row 0 must not see); three
        // consecutive tokens of slot 0; slot 3's first two tokens in reverse order (adjacent rows of one slot that are not
        // a prefill); slot 1's last cache entry.
        int[] newSlots = [2, 0, 0, 0, 3, 3, 1, 2];
        int[] newPositions = [5, 17, 18, 19, 1, 0, 39, 6];
        using var qkv = TestData.Random(random, 1.5f, newSlots.Length, width);
        Write(qkv, newSlots, newPositions);
        using var slotsTensor = TestData.Ints(newSlots);
        using var positionsTensor = TestData.Ints(newPositions);
        using var output = Tensor.Allocate(newSlots.Length, outputWidth);
        backend.CachedAttentionForward(output, qkv, keyCache, valueCache, layout, slotsTensor, positionsTensor);

        var q = qkv.AsSpan();
        var expected = new float[newSlots.Length * outputWidth];
        int hs = layout.HeadSize, group = layout.HeadCount / layout.KeyValueHeadCount;
        for (int n = 0; n < newSlots.Length; n++)
        for (int h = 0; h < layout.HeadCount; h++)
        {
            int g = h / group;
            var scores = new double[newPositions[n] + 1];
            for (int j = 0; j < scores.Length; j++)
            {
                int entry = (((newSlots[n] * length) + j) * keyValueWidth) + (g * hs);
                double s = 0;
                for (int d = 0; d < hs; d++) s += (double)q[(n * width) + layout.QueryColumn + (h * hs) + d] * expectedKeys[entry + d];
                scores[j] = s * layout.Scale;
            }
            double max = scores.Max();
            double sum = scores.Sum(s => Math.Exp(s - max));
            for (int d = 0; d < hs; d++)
            {
                double o = 0;
                for (int j = 0; j < scores.Length; j++)
                    o += Math.Exp(scores[j] - max) / sum * expectedValues[(((newSlots[n] * length) + j) * keyValueWidth) + (g * hs) + d];
                expected[(n * outputWidth) + (h * hs) + d] = (float)o;
            }
        }
        AssertClose(output.AsSpan(), expected, "output");

        // the caches hold exactly what was written, NaN where nothing was
        Assert.Equal(expectedKeys.Select(BitConverter.SingleToInt32Bits), keyCache.ToArray().Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expectedValues.Select(BitConverter.SingleToInt32Bits), valueCache.ToArray().Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Runs_on_memory_the_host_cannot_address()
    {
        const int rows = 12;
        var layout = AttentionLayout.Fused(4, 2, 8, causal: true);
        int outputWidth = 32;
        var random = TestData.NewRandom();
        using var hostQkv = TestData.Random(random, 1f, rows, layout.FusedWidth);
        int[] slots = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
        int[] positions = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5];
        float[] expected;
        using (var keyCache = Tensor.Allocate(2, 8, 16))
        using (var valueCache = Tensor.Allocate(2, 8, 16))
        using (var output = Tensor.Allocate(rows, outputWidth))
        using (var s = TestData.Ints(slots))
        using (var p = TestData.Ints(positions))
        {
            _backend.KeyValueCacheWrite(keyCache, valueCache, hostQkv, layout, s, p);
            _backend.CachedAttentionForward(output, hostQkv, keyCache, valueCache, layout, s, p);
            expected = output.ToArray();
        }

        Tensor Device(TensorShape shape, TensorElementType type = TensorElementType.Float32) => Tensor.Allocate(shape, type, hostAddressable: false);
        using var qkvDevice = Device(hostQkv.Shape);
        using var keyCacheDevice = Device(new TensorShape(2, 8, 16));
        using var valueCacheDevice = Device(new TensorShape(2, 8, 16));
        using var outputDevice = Device(new TensorShape(rows, outputWidth));
        using var slotsDevice = Device(new TensorShape(rows), TensorElementType.Int32);
        using var positionsDevice = Device(new TensorShape(rows), TensorElementType.Int32);
        _backend.CopyFromHost(qkvDevice, hostQkv.AsSpan());
        _backend.CopyFromHost(slotsDevice, slots);
        _backend.CopyFromHost(positionsDevice, positions);
        _backend.KeyValueCacheWrite(keyCacheDevice, valueCacheDevice, qkvDevice, layout, slotsDevice, positionsDevice);
        _backend.CachedAttentionForward(outputDevice, qkvDevice, keyCacheDevice, valueCacheDevice, layout, slotsDevice, positionsDevice);
        Assert.Equal(expected, _backend.ToHost(outputDevice));
    }

    [Fact]
    public void No_rows_is_a_valid_call()
    {
        var layout = AttentionLayout.Fused(4, 2, 8, causal: true);
        using var keyCache = Tensor.Allocate(2, 8, 16);
        using var valueCache = Tensor.Allocate(2, 8, 16);
        using var qkv = Tensor.Allocate(0, layout.FusedWidth);
        using var output = Tensor.Allocate(0, 32);
        using var none = Tensor.AllocateInt32(0);
        _backend.KeyValueCacheWrite(keyCache, valueCache, qkv, layout, none, none);
        _backend.CachedAttentionForward(output, qkv, keyCache, valueCache, layout, none, none);
        Assert.All(keyCache.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Write_and_attend_allocate_nothing()
    {
        // a 64-row prefill of one slot, then a decode step of 16 slots: both large enough for the pool to split
        var layout = AttentionLayout.Fused(4, 2, 16, causal: true);
        var random = TestData.NewRandom();
        using var keyCache = Tensor.Allocate(16, 128, 32);
        using var valueCache = Tensor.Allocate(16, 128, 32);
        using var prefill = TestData.Random(random, 1f, 64, layout.FusedWidth);
        using var prefillOutput = Tensor.Allocate(64, 64);
        using var prefillSlots = TestData.Ints(new int[64]);
        using var prefillPositions = TestData.Ints(Enumerable.Range(0, 64).ToArray());
        using var decode = TestData.Random(random, 1f, 16, layout.FusedWidth);
        using var decodeOutput = Tensor.Allocate(16, 64);
        using var decodeSlots = TestData.Ints(Enumerable.Range(0, 16).ToArray());
        using var decodePositions = TestData.Ints(Enumerable.Range(0, 16).Select(s => 64 + s).ToArray());
        void Step(int times)
        {
            for (int i = 0; i < times; i++)
            {
                _backend.KeyValueCacheWrite(keyCache, valueCache, prefill, layout, prefillSlots, prefillPositions);
                _backend.CachedAttentionForward(prefillOutput, prefill, keyCache, valueCache, layout, prefillSlots, prefillPositions);
                _backend.KeyValueCacheWrite(keyCache, valueCache, decode, layout, decodeSlots, decodePositions);
                _backend.CachedAttentionForward(decodeOutput, decode, keyCache, valueCache, layout, decodeSlots, decodePositions);
            }
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(() => Step(50), () => Step(10)));
    }

    // ---- argument checks ----

    // A valid call (S=2, Tmax=5, NH=4, NKV=2, hs=4, fused rows of 32, N=3) whose pieces each test breaks in turn.
    private sealed class Call : IDisposable
    {
        public AttentionLayout Layout = AttentionLayout.Fused(4, 2, 4, causal: true);
        public Tensor KeyCache = Tensor.Allocate(2, 5, 8), ValueCache = Tensor.Allocate(2, 5, 8);
        public Tensor Qkv = Tensor.Allocate(3, 32), Output = Tensor.Allocate(3, 16);
        public Tensor Slots = TestData.Ints([0, 1, 1]), Positions = TestData.Ints([0, 0, 1]);

        public void Write(IBackend backend) => backend.KeyValueCacheWrite(KeyCache, ValueCache, Qkv, Layout, Slots, Positions);

        public void Attend(IBackend backend) => backend.CachedAttentionForward(Output, Qkv, KeyCache, ValueCache, Layout, Slots, Positions);

        public void Dispose()
        {
            foreach (var tensor in new[] { KeyCache, ValueCache, Qkv, Output, Slots, Positions }) tensor.Dispose();
        }
    }

    // Breaks a valid call; the write and/or the attention must then throw TException with a one-line message.
    private string Throws<TException>(Action<Call> breakIt, bool write = true, bool attend = true) where TException : Exception
    {
        using var call = new Call();
        call.Write(_backend);
        call.Attend(_backend); // the unbroken call is valid
        breakIt(call);
        string message = "";
        if (write)
        {
            var exception = Assert.Throws<TException>(() => call.Write(_backend));
            Assert.StartsWith("KeyValueCacheWrite: ", exception.Message);
            Assert.DoesNotContain('\n', exception.Message);
            message = exception.Message;
        }
        if (attend)
        {
            var exception = Assert.Throws<TException>(() => call.Attend(_backend));
            Assert.StartsWith("CachedAttentionForward: ", exception.Message);
            Assert.DoesNotContain('\n', exception.Message);
            message = exception.Message;
        }
        return message;
    }

    [Fact]
    public void Slot_outside_the_cache_Throws()
    {
        Assert.Contains("row 1 has slot 2, outside [0, 2)", Throws<ArgumentOutOfRangeException>(c => c.Slots.CopyFrom([0, 2, 1])));
        Assert.Contains("row 0 has slot -1", Throws<ArgumentOutOfRangeException>(c => c.Slots.CopyFrom([-1, 0, 0])));
    }

    [Fact]
    public void Position_outside_the_cache_Throws()
    {
        Assert.Contains("row 2 has position 5, outside [0, 5)", Throws<ArgumentOutOfRangeException>(c => c.Positions.CopyFrom([0, 1, 5])));
        Assert.Contains("row 1 has position -3", Throws<ArgumentOutOfRangeException>(c => c.Positions.CopyFrom([0, -3, 1])));
    }

    [Fact]
    public void Cache_of_wrong_shape_Throws()
    {
        Assert.Contains("keyCache has shape (10, 8), expected (slots, positions, 8)", Throws<ShapeMismatchException>(c => c.KeyCache = Tensor.Allocate(10, 8)));
        Assert.Contains("expected (slots, positions, 8) for 2 key/value heads of size 4", Throws<ShapeMismatchException>(c => c.KeyCache = Tensor.Allocate(2, 5, 12)));
        Assert.Contains("valueCache has shape (2, 6, 8), expected the shape of keyCache (2, 5, 8)",
            Throws<ShapeMismatchException>(c => c.ValueCache = Tensor.Allocate(2, 6, 8)));
    }

    [Fact]
    public void Slots_or_positions_of_wrong_length_Throws()
    {
        Assert.Contains("slots has shape (2), expected 3 elements", Throws<ShapeMismatchException>(c => c.Slots = TestData.Ints([0, 1])));
        Assert.Contains("positions has shape (4), expected 3 elements", Throws<ShapeMismatchException>(c => c.Positions = TestData.Ints([0, 1, 2, 3])));
    }

    [Fact]
    public void Output_of_wrong_shape_Throws() =>
        Assert.Contains("output has shape (3, 12), expected 3 rows of 16 (4 heads of 4)",
            Throws<ShapeMismatchException>(c => c.Output = Tensor.Allocate(3, 12), write: false));

    [Fact]
    public void Wrong_element_types_Throw()
    {
        Assert.Contains("slots is a Float32 tensor of shape (3), expected Int32", Throws<ArgumentException>(c => c.Slots = Tensor.Allocate(3)));
        Assert.Contains("positions is a Float32 tensor", Throws<ArgumentException>(c => c.Positions = Tensor.Allocate(3)));
        Assert.Contains("qkv is a Int32 tensor", Throws<ArgumentException>(c => c.Qkv = Tensor.AllocateInt32(3, 32)));
        Assert.Contains("keyCache is a Int32 tensor", Throws<ArgumentException>(c => c.KeyCache = Tensor.AllocateInt32(2, 5, 8)));
        Assert.Contains("valueCache is a Int32 tensor", Throws<ArgumentException>(c => c.ValueCache = Tensor.AllocateInt32(2, 5, 8)));
        Assert.Contains("output is a Int32 tensor", Throws<ArgumentException>(c => c.Output = Tensor.AllocateInt32(3, 16), write: false));
    }

    [Fact]
    public void Key_value_heads_not_dividing_heads_Throws()
    {
        Assert.Contains("3 key/value heads", Throws<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { KeyValueHeadCount = 3 }));
        Throws<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { HeadSize = 0 });
    }

    [Fact]
    public void Columns_outside_the_rows_Throws()
    {
        Assert.Contains("qkv has shape (3, 32), expected rows of at least 33 columns for 4 query heads of size 4 at columns [17, 33)",
            Throws<ShapeMismatchException>(c => c.Layout = c.Layout with { QueryColumn = 17 }, write: false));
        Assert.Contains("key heads of size 4 at columns [25, 33)", Throws<ShapeMismatchException>(c => c.Layout = c.Layout with { KeyColumn = 25 }, attend: false));
        Assert.Contains("value heads", Throws<ShapeMismatchException>(c => c.Layout = c.Layout with { ValueColumn = 30 }, attend: false));
        Assert.Contains("value heads start at column -1", Throws<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { ValueColumn = -1 }, attend: false));
        Throws<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { QueryColumn = -1 }, write: false);
    }

    [Fact]
    public void Bidirectional_layout_or_non_finite_scale_Throws()
    {
        Assert.Contains("not causal", Throws<ArgumentException>(c => c.Layout = c.Layout with { Causal = false }, write: false));
        Assert.Contains("Scale is NaN", Throws<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { Scale = float.NaN }, write: false));
    }

    [Fact]
    public void One_tensor_for_keys_and_values_Throws() =>
        Assert.Contains("keyCache and valueCache share memory", Throws<ArgumentException>(c => c.ValueCache = c.KeyCache, attend: false));
}
