using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>
/// Attention: the forward against a naive double-precision softmax per query, the backward against finite differences
/// of the forward (<see cref="GradientCheck"/>), and every argument check. Each named case below is one model family's
/// use: GPT-2's fused causal heads, grouped- and multi-query heads, cross-attention, a KV-cache step, key padding, T5's
/// position bias with scale 1, packed documents (a first visible key per query), and all of them at once.
/// </summary>
public sealed class AttentionTests
{
    private const float Sentinel = 7f; // fills gradient tensors: columns the backward must not touch keep it

    private readonly IBackend _backend = CpuBackend.Shared;

    public static TheoryData<string> Cases =>
        ["gpt2", "gpt2-head-size-4", "gpt2-head-size-16", "gqa", "mqa", "cross", "kv-cache", "more-queries-than-keys", "mask", "bias", "everything",
            "documents", "documents-head-size-4", "documents-bidirectional", "documents-everything", "long", "long-bias", "wide-heads", "wide-cross",
            "wide-cache"];

    // One attention call's inputs. Fused: query and keyValue are the same (B,T,(NH+2·NKV)·hs) tensor.
    private sealed record Case(int Batch, int QueryCount, int KeyCount, AttentionLayout Layout, int QueryWidth, int KeyValueWidth,
        bool Fused, int[]? Mask = null, bool Bias = false, float InputScale = 1.5f, int[]? FirstKey = null)
    {
        public int OutputWidth => Layout.HeadCount * Layout.HeadSize;
    }

    private static Case FusedCase(int batch, int tokens, int heads, int keyValueHeads, int headSize, bool causal, int[]? mask = null)
    {
        var layout = AttentionLayout.Fused(heads, keyValueHeads, headSize, causal);
        return new Case(batch, tokens, tokens, layout, layout.FusedWidth, layout.FusedWidth, Fused: true, mask);
    }

    private static Case Get(string name) => name switch
    {
        "gpt2" => FusedCase(2, 11, 3, 3, 8, causal: true),
        "gpt2-head-size-4" => FusedCase(2, 7, 3, 3, 4, causal: true),    // scalar tails only
        "gpt2-head-size-16" => FusedCase(1, 9, 2, 2, 16, causal: true),  // vector path
        "gqa" => FusedCase(2, 9, 4, 2, 8, causal: true),
        "mqa" => FusedCase(2, 9, 4, 1, 12, causal: true),
        // separate query and key/value tensors, Tq ≠ Tk, bidirectional, heads at odd columns, values before keys
        "cross" => new Case(2, 5, 9, new AttentionLayout(4, 2, 8, QueryColumn: 3, KeyColumn: 19, ValueColumn: 1, Causal: false,
            Scale: 1f / MathF.Sqrt(8)), QueryWidth: 37, KeyValueWidth: 36, Fused: false),
        // a KV-cache step: 3 new queries see all 7 cached keys and the new ones up to themselves
        "kv-cache" => new Case(2, 3, 10, new AttentionLayout(2, 2, 8, 0, 0, 16, Causal: true, Scale: 1f / MathF.Sqrt(8)),
            QueryWidth: 16, KeyValueWidth: 32, Fused: false),
        // bottom-right alignment leaves the first two queries with no key: output 0, gradient 0
        "more-queries-than-keys" => new Case(2, 6, 4, new AttentionLayout(2, 1, 8, 0, 0, 8, Causal: true, Scale: 0.3f),
            QueryWidth: 16, KeyValueWidth: 16, Fused: false),
        // batch row 0: key 0 hidden, so causal query 0 sees nothing; batch row 1: every key hidden
        "mask" => FusedCase(3, 7, 2, 2, 8, causal: true, mask: [0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]),
        // T5: bidirectional, scale 1, learned bias per (head, query, key)
        "bias" => FusedCase(2, 10, 3, 3, 8, causal: false) with
        {
            Layout = AttentionLayout.Fused(3, 3, 8, causal: false) with { Scale = 1f }, Bias = true, InputScale = 0.6f,
        },
        // grouped-query cross-shaped causal attention with a mask (batch row 1, query 0 sees only hidden keys) and a bias
        "everything" => new Case(2, 5, 8, new AttentionLayout(4, 2, 8, QueryColumn: 1, KeyColumn: 2, ValueColumn: 20, Causal: true,
            Scale: 0.5f), QueryWidth: 35, KeyValueWidth: 37, Fused: false, Mask: [1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1], Bias: true,
            InputScale: 1f),
        // packed documents, GPT-2 style: row 0 holds documents [0,3) [3,9) [9,11), row 1 [0,5) [5,6) [6,11); query blocks
        // of four straddle the boundaries
        "documents" => FusedCase(2, 11, 2, 2, 16, causal: true) with { FirstKey = [0, 0, 0, 3, 3, 3, 3, 3, 3, 9, 9, 0, 0, 0, 0, 0, 5, 6, 6, 6, 6, 6] },
        "documents-head-size-4" => FusedCase(2, 11, 3, 3, 4, causal: true) with { FirstKey = [0, 0, 0, 3, 3, 3, 3, 3, 3, 9, 9, 0, 0, 0, 0, 0, 5, 6, 6, 6, 6, 6] },
        // without causality a first key alone bounds the keys; the last two queries of row 0 (first key Tk) see nothing
        "documents-bidirectional" => FusedCase(2, 9, 2, 2, 8, causal: false) with { FirstKey = [0, 0, 2, 2, 2, 5, 5, 9, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8] },
        // "everything" plus first keys: row 0's queries 3 and 4 start after their causal end (they see nothing), row 1's
        // query 0 starts at a hidden key and sees only hidden ones
        "documents-everything" => Get("everything") with { FirstKey = [0, 2, 2, 7, 8, 1, 1, 4, 4, 6] },
        // longer than one query block of the kernel (48 rows): blocks whose key ranges differ, a partial last block, and
        // documents [0,30) [30,75) [75,100) that straddle the block boundaries, with every 7th key hidden
        "long" => FusedCase(1, 100, 2, 1, 4, causal: true, mask: Enumerable.Range(0, 100).Select(j => j % 7 == 3 ? 0 : 1).ToArray()) with
        {
            FirstKey = Enumerable.Range(0, 100).Select(t => t < 30 ? 0 : t < 75 ? 30 : 75).ToArray(),
        },
        "long-bias" => FusedCase(1, 60, 2, 2, 4, causal: false) with
        {
            Layout = AttentionLayout.Fused(2, 2, 4, causal: false) with { Scale = 1f }, Bias = true, InputScale = 0.6f,
        },
        // heads of 40 floats (a whole panel of the micro-kernel's widest tile and a short one; two whole AVX2 panels and a
        // short one) over two query blocks and several key panels: multi-query causal; cross-attention over more keys than
        // queries; causal keys beyond the queries (a prompt after a cache), with fewer heads than the workers' share, so a
        // head's blocks split into runs
        "wide-heads" => FusedCase(1, 60, 2, 1, 40, causal: true),
        "wide-cross" => new Case(1, 50, 70, new AttentionLayout(2, 1, 40, QueryColumn: 0, KeyColumn: 0, ValueColumn: 40, Causal: false,
            Scale: 1f / MathF.Sqrt(40)), QueryWidth: 80, KeyValueWidth: 80, Fused: false),
        "wide-cache" => new Case(1, 50, 80, new AttentionLayout(2, 1, 40, QueryColumn: 0, KeyColumn: 0, ValueColumn: 40, Causal: true,
            Scale: 1f / MathF.Sqrt(40)), QueryWidth: 80, KeyValueWidth: 80, Fused: false),
        _ => throw new ArgumentException($"no attention case {name}", nameof(name)),
    };

    // The tensors of one case, filled from the test seed.
    private sealed class Inputs : IDisposable
    {
        public Inputs(Case c)
        {
            var random = TestData.NewRandom();
            Query = TestData.Random(random, c.InputScale, c.Batch, c.QueryCount, c.QueryWidth);
            KeyValue = c.Fused ? Query : TestData.Random(random, c.InputScale, c.Batch, c.KeyCount, c.KeyValueWidth);
            if (c.Mask is not null)
            {
                Mask = Tensor.AllocateInt32(c.Batch, c.KeyCount);
                Mask.CopyFrom(c.Mask);
            }
            if (c.Bias) Bias = TestData.Random(random, 2f, c.Layout.HeadCount, c.QueryCount, c.KeyCount);
            if (c.FirstKey is not null) FirstKey = TestData.Ints(c.FirstKey, c.Batch, c.QueryCount);
            Output = Tensor.Allocate(c.Batch, c.QueryCount, c.OutputWidth);
            Lse = Tensor.Allocate(c.Batch, c.Layout.HeadCount, c.QueryCount);
            OutputGrad = TestData.Random(random, 1f, c.Batch, c.QueryCount, c.OutputWidth);
        }

        public Tensor Query { get; }
        public Tensor KeyValue { get; }
        public Tensor? Mask { get; }
        public Tensor? Bias { get; }
        public Tensor? FirstKey { get; }
        public Tensor Output { get; }
        public Tensor Lse { get; }
        public Tensor OutputGrad { get; }

        public void Dispose()
        {
            Query.Dispose();
            KeyValue.Dispose();
            Mask?.Dispose();
            Bias?.Dispose();
            FirstKey?.Dispose();
            Output.Dispose();
            Lse.Dispose();
            OutputGrad.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_matches_naive_softmax_per_query(string name)
    {
        var c = Get(name);
        using var x = new Inputs(c);
        x.Output.AsSpan().Fill(float.NaN); // overwritten everywhere, including queries that see no key
        x.Lse.AsSpan().Fill(float.NaN);
        _backend.AttentionForward(x.Output, x.Lse, x.Query, x.KeyValue, c.Layout, x.Mask, x.Bias, x.FirstKey);
        (double[] output, double[] lse) = Reference(c, x);
        int empty = 0;
        for (int i = 0; i < lse.Length; i++)
        {
            if (double.IsPositiveInfinity(lse[i])) empty++;
            Assert.True(double.IsPositiveInfinity(lse[i]) ? float.IsPositiveInfinity(x.Lse.AsSpan()[i]) : Math.Abs(lse[i] - x.Lse.AsSpan()[i]) <= 1e-4,
                $"{name}: lse[{i}] is {x.Lse.AsSpan()[i]}, expected {lse[i]}");
        }
        for (int i = 0; i < output.Length; i++)
            Assert.True(Math.Abs(output[i] - x.Output.AsSpan()[i]) <= 1e-5, $"{name}: output[{i}] is {x.Output.AsSpan()[i]}, expected {output[i]}");
        bool expectsEmptyQueries = name is "mask" or "more-queries-than-keys" or "everything" or "documents-bidirectional" or "documents-everything";
        Assert.Equal(expectsEmptyQueries, empty > 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_match_finite_differences(string name)
    {
        var c = Get(name);
        using var x = new Inputs(c);
        using var queryGrad = Tensor.Allocate(x.Query.Shape);
        using var separateKeyValueGrad = c.Fused ? null : Tensor.Allocate(x.KeyValue.Shape);
        var keyValueGrad = separateKeyValueGrad ?? queryGrad;
        queryGrad.AsSpan().Fill(Sentinel);
        keyValueGrad.AsSpan().Fill(Sentinel);
        var random = new Random(7);
        using var biasGrad = c.Bias ? TestData.Random(random, 1f, c.Layout.HeadCount, c.QueryCount, c.KeyCount) : null;
        float[]? biasGradBefore = biasGrad?.ToArray();

        _backend.AttentionForward(x.Output, x.Lse, x.Query, x.KeyValue, c.Layout, x.Mask, x.Bias, x.FirstKey);
        _backend.AttentionBackward(queryGrad, keyValueGrad, biasGrad, x.OutputGrad, x.Query, x.KeyValue, x.Output, x.Lse, c.Layout, x.Mask, x.Bias,
            x.FirstKey);

        // columns outside the heads are untouched; they get no gradient, so clear them for the check below
        var l = c.Layout;
        int[] queryColumns = c.Fused ? [l.QueryColumn, l.KeyColumn, l.ValueColumn] : [l.QueryColumn];
        int[] queryWidths = c.Fused ? [l.HeadCount * l.HeadSize, l.KeyValueHeadCount * l.HeadSize, l.KeyValueHeadCount * l.HeadSize] : [l.HeadCount * l.HeadSize];
        ExpectSentinelOutside(queryGrad, queryColumns, queryWidths);
        if (separateKeyValueGrad is not null)
            ExpectSentinelOutside(separateKeyValueGrad, [l.KeyColumn, l.ValueColumn], [l.KeyValueHeadCount * l.HeadSize, l.KeyValueHeadCount * l.HeadSize]);
        if (biasGrad is not null)
        {
            var accumulated = biasGrad.AsSpan();
            for (int i = 0; i < accumulated.Length; i++) accumulated[i] -= biasGradBefore![i]; // ACCUMULATED: the preset values stay added
        }

        double Loss()
        {
            _backend.AttentionForward(x.Output, x.Lse, x.Query, x.KeyValue, c.Layout, x.Mask, x.Bias, x.FirstKey);
            return TestData.Dot(x.Output, x.OutputGrad);
        }
        GradientCheck.Check(c.Fused ? "dqkv" : "dquery", x.Query, queryGrad, Loss);
        if (separateKeyValueGrad is not null) GradientCheck.Check("dkeyValue", x.KeyValue, separateKeyValueGrad, Loss);
        if (biasGrad is not null) GradientCheck.Check("dpositionBias", x.Bias!, biasGrad, Loss);
        Assert.DoesNotContain(queryGrad.ToArray(), float.IsNaN);
    }

    [Fact]
    public void Fully_masked_batch_row_gives_zero_output_and_zero_gradients()
    {
        var c = Get("mask");
        using var x = new Inputs(c);
        using var grad = Tensor.Allocate(x.Query.Shape);
        _backend.AttentionForward(x.Output, x.Lse, x.Query, x.KeyValue, c.Layout, x.Mask, x.Bias);
        _backend.AttentionBackward(grad, grad, null, x.OutputGrad, x.Query, x.KeyValue, x.Output, x.Lse, c.Layout, x.Mask, x.Bias);
        int outputRow = c.QueryCount * c.OutputWidth, gradRow = c.QueryCount * c.Layout.FusedWidth;
        Assert.All(x.Output.ToArray().AsSpan(outputRow, outputRow).ToArray(), v => Assert.Equal(0f, v));   // batch row 1
        Assert.All(grad.ToArray().AsSpan(gradRow, gradRow).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(x.Output.ToArray().AsSpan(0, c.OutputWidth).ToArray(), v => Assert.Equal(0f, v));     // batch 0, query 0
        Assert.DoesNotContain(grad.ToArray(), float.IsNaN);
    }

    [Fact]
    public void Forward_and_backward_allocate_nothing()
    {
        // Large enough for the pool to split both passes; mask, bias and its gradient, and first keys on, so every branch runs.
        const int batch = 2, tokens = 64;
        var layout = AttentionLayout.Fused(4, 2, 16, causal: true);
        var random = TestData.NewRandom();
        using var qkv = TestData.Random(random, 1f, batch, tokens, layout.FusedWidth);
        using var grad = Tensor.Allocate(batch, tokens, layout.FusedWidth);
        using var output = Tensor.Allocate(batch, tokens, 64);
        using var outputGrad = TestData.Random(random, 1f, batch, tokens, 64);
        using var lse = Tensor.Allocate(batch, 4, tokens);
        using var mask = Tensor.AllocateInt32(batch, tokens);
        mask.AsInt32Span().Fill(1);
        using var bias = TestData.Random(random, 1f, 4, tokens, tokens);
        using var biasGrad = Tensor.Allocate(4, tokens, tokens);
        using var firstKey = TestData.Ints(Enumerable.Range(0, batch * tokens).Select(i => i % tokens / 10 * 10).ToArray(), batch, tokens);
        void Step(int times)
        {
            for (int i = 0; i < times; i++)
            {
                _backend.AttentionForward(output, lse, qkv, qkv, layout, mask, bias, firstKey);
                _backend.AttentionBackward(grad, grad, biasGrad, outputGrad, qkv, qkv, output, lse, layout, mask, bias, firstKey);
                _backend.AttentionBackward(grad, grad, null, outputGrad, qkv, qkv, output, lse, layout);
            }
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(() => Step(50), () => Step(10)));
    }

    [Fact]
    public void Packed_row_equals_its_documents_run_alone()
    {
        // Two rows of 14 tokens packing documents of 5, 3, 6 and 2, 9, 3 tokens; every document is then run on its own
        // (B = 1, T = its length, no first key). Outputs, normalizers and all gradients must agree.
        const int tokens = 14;
        int[][] lengths = [[5, 3, 6], [2, 9, 3]];
        var layout = AttentionLayout.Fused(4, 2, 8, causal: true);
        int w = layout.FusedWidth, ow = layout.HeadCount * layout.HeadSize, nh = layout.HeadCount;
        var random = TestData.NewRandom();
        using var qkv = TestData.Random(random, 1.5f, 2, tokens, w);
        using var outputGrad = TestData.Random(random, 1f, 2, tokens, ow);
        var starts = new int[2 * tokens];
        for (int b = 0; b < 2; b++)
        {
            int start = 0;
            foreach (int length in lengths[b])
            {
                for (int t = start; t < start + length; t++) starts[(b * tokens) + t] = start;
                start += length;
            }
        }
        using var firstKey = TestData.Ints(starts, 2, tokens);
        using var output = Tensor.Allocate(2, tokens, ow);
        using var lse = Tensor.Allocate(2, nh, tokens);
        using var grad = Tensor.Allocate(2, tokens, w);
        _backend.AttentionForward(output, lse, qkv, qkv, layout, firstKey: firstKey);
        _backend.AttentionBackward(grad, grad, null, outputGrad, qkv, qkv, output, lse, layout, firstKey: firstKey);
        float[] packedOutput = output.ToArray(), packedLse = lse.ToArray(), packedGrad = grad.ToArray();
        float[] allQkv = qkv.ToArray(), allOutputGrad = outputGrad.ToArray();

        for (int b = 0; b < 2; b++)
        {
            int start = 0;
            foreach (int n in lengths[b])
            {
                using var docQkv = Tensor.Allocate(1, n, w);
                using var docOutputGrad = Tensor.Allocate(1, n, ow);
                using var docOutput = Tensor.Allocate(1, n, ow);
                using var docLse = Tensor.Allocate(1, nh, n);
                using var docGrad = Tensor.Allocate(1, n, w);
                int row = (b * tokens) + start;
                docQkv.CopyFrom(allQkv.AsSpan(row * w, n * w));
                docOutputGrad.CopyFrom(allOutputGrad.AsSpan(row * ow, n * ow));
                _backend.AttentionForward(docOutput, docLse, docQkv, docQkv, layout);
                _backend.AttentionBackward(docGrad, docGrad, null, docOutputGrad, docQkv, docQkv, docOutput, docLse, layout);
                ExpectClose($"row {b} document at {start}: output", docOutput.ToArray(), packedOutput.AsSpan(row * ow, n * ow), 1e-6);
                ExpectClose($"row {b} document at {start}: gradient", docGrad.ToArray(), packedGrad.AsSpan(row * w, n * w), 1e-5);
                float[] alone = docLse.ToArray();
                for (int h = 0; h < nh; h++)
                    ExpectClose($"row {b} document at {start}: head {h} lse", alone.AsSpan(h * n, n).ToArray(),
                        packedLse.AsSpan((((b * nh) + h) * tokens) + start, n), 1e-6);
                start += n;
            }
        }

        // the check has teeth: without the first keys the later documents' outputs differ
        _backend.AttentionForward(output, lse, qkv, qkv, layout);
        float[] unpacked = output.ToArray();
        Assert.True(Enumerable.Range(5 * ow, 9 * ow).Max(i => Math.Abs(unpacked[i] - packedOutput[i])) > 1e-2);
    }

    private static void ExpectClose(string what, float[] expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}] is {actual[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Fused_layout_places_q_k_v_side_by_side()
    {
        var layout = AttentionLayout.Fused(8, 2, 64, causal: true);
        Assert.Equal(new AttentionLayout(8, 2, 64, 0, 512, 640, true, 0.125f), layout);
        Assert.Equal(768, layout.FusedWidth);
    }

    // ---- argument checks ----

    // A valid cross-attention call (B=2, Tq=3, Tk=5, NH=4, NKV=2, hs=4) whose pieces each test breaks in turn.
    private sealed class Call : IDisposable
    {
        public AttentionLayout Layout = new(4, 2, 4, QueryColumn: 0, KeyColumn: 0, ValueColumn: 8, Causal: false, Scale: 0.5f);
        public Tensor Query = Tensor.Allocate(2, 3, 16), KeyValue = Tensor.Allocate(2, 5, 16);
        public Tensor Output = Tensor.Allocate(2, 3, 16), Lse = Tensor.Allocate(2, 4, 3);
        public Tensor QueryGrad = Tensor.Allocate(2, 3, 16), KeyValueGrad = Tensor.Allocate(2, 5, 16), OutputGrad = Tensor.Allocate(2, 3, 16);
        public Tensor? Mask = Tensor.AllocateInt32(2, 5), Bias = Tensor.Allocate(4, 3, 5), BiasGrad = Tensor.Allocate(4, 3, 5);
        public Tensor? FirstKey = TestData.Ints([0, 5, 2, 1, 1, 0], 2, 3); // 5 = Tk: that query sees no key, which is allowed

        public void Forward(IBackend backend) => backend.AttentionForward(Output, Lse, Query, KeyValue, Layout, Mask, Bias, FirstKey);

        public void Backward(IBackend backend) =>
            backend.AttentionBackward(QueryGrad, KeyValueGrad, BiasGrad, OutputGrad, Query, KeyValue, Output, Lse, Layout, Mask, Bias, FirstKey);

        public void Dispose()
        {
            foreach (var tensor in new[] { Query, KeyValue, Output, Lse, QueryGrad, KeyValueGrad, OutputGrad, Mask, Bias, BiasGrad, FirstKey })
                tensor?.Dispose();
        }
    }

    private TException ForwardThrows<TException>(Action<Call> breakIt) where TException : Exception
    {
        using var call = new Call();
        call.Forward(_backend);
        call.Backward(_backend); // the unbroken call is valid
        breakIt(call);
        var exception = Assert.Throws<TException>(() => call.Forward(_backend));
        Assert.Throws<TException>(() => call.Backward(_backend)); // the backward shares the forward's checks
        Assert.StartsWith("AttentionForward: ", exception.Message);
        Assert.DoesNotContain('\n', exception.Message);
        return exception;
    }

    private TException BackwardThrows<TException>(Action<Call> breakIt) where TException : Exception
    {
        using var call = new Call();
        breakIt(call);
        call.Forward(_backend);
        var exception = Assert.Throws<TException>(() => call.Backward(_backend));
        Assert.StartsWith("AttentionBackward: ", exception.Message);
        Assert.DoesNotContain('\n', exception.Message);
        return exception;
    }

    [Fact]
    public void Key_value_heads_not_dividing_heads_Throws()
    {
        var ex = ForwardThrows<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { KeyValueHeadCount = 3, ValueColumn = 4 });
        Assert.Contains("3 key/value heads", ex.Message);
        ForwardThrows<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { HeadSize = 0 });
    }

    [Fact]
    public void Non_finite_scale_Throws() =>
        ForwardThrows<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { Scale = float.NaN });

    [Fact]
    public void Query_columns_outside_the_row_Throws()
    {
        var ex = ForwardThrows<ShapeMismatchException>(c => c.Layout = c.Layout with { QueryColumn = 1 });
        Assert.Contains("query has shape (2, 3, 16)", ex.Message);
        Assert.Contains("[1, 17)", ex.Message);
    }

    [Fact]
    public void Key_or_value_columns_outside_the_row_Throws()
    {
        Assert.Contains("[9, 17)", ForwardThrows<ShapeMismatchException>(c => c.Layout = c.Layout with { KeyColumn = 9 }).Message);
        Assert.Contains("value heads", ForwardThrows<ShapeMismatchException>(c => c.Layout = c.Layout with { ValueColumn = 12 }).Message);
    }

    [Fact]
    public void Negative_column_Throws() =>
        ForwardThrows<ArgumentOutOfRangeException>(c => c.Layout = c.Layout with { KeyColumn = -1 });

    [Fact]
    public void Batch_mismatch_between_query_and_keyValue_Throws()
    {
        var ex = ForwardThrows<ShapeMismatchException>(c => c.KeyValue = Tensor.Allocate(3, 5, 16));
        Assert.Contains("(3, 5, 16)", ex.Message);
    }

    [Fact]
    public void Query_or_keyValue_of_wrong_rank_or_element_type_Throws()
    {
        ForwardThrows<ShapeMismatchException>(c => c.Query = Tensor.Allocate(6, 16));
        Assert.Contains("keyValue is a Int32 tensor of shape (2, 5, 16), expected Float32", ForwardThrows<ArgumentException>(c => c.KeyValue = Tensor.AllocateInt32(2, 5, 16)).Message);
    }

    [Fact]
    public void Wrong_output_shape_Throws() =>
        Assert.Contains("expected (2, 3, 16)", ForwardThrows<ShapeMismatchException>(c => c.Output = Tensor.Allocate(2, 3, 12)).Message);

    [Fact]
    public void Wrong_logSumExp_shape_Throws()
    {
        var ex = ForwardThrows<ShapeMismatchException>(c => c.Lse = Tensor.Allocate(2, 3, 4));
        Assert.Contains("logSumExp has shape (2, 3, 4), expected (2, 4, 3)", ex.Message);
    }

    [Fact]
    public void Key_mask_not_int32_Throws()
    {
        var ex = ForwardThrows<ArgumentException>(c => c.Mask = Tensor.Allocate(2, 5));
        Assert.Equal("keyMask", ex.ParamName);
        Assert.Contains("expected Int32", ex.Message);
    }

    [Fact]
    public void Key_mask_of_wrong_shape_Throws() =>
        Assert.Contains("keyMask has shape (2, 3), expected (2, 5)",
            ForwardThrows<ShapeMismatchException>(c => c.Mask = Tensor.AllocateInt32(2, 3)).Message);

    [Fact]
    public void Position_bias_of_wrong_shape_Throws() =>
        Assert.Contains("positionBias has shape (4, 5, 3), expected (4, 3, 5)",
            ForwardThrows<ShapeMismatchException>(c => c.Bias = Tensor.Allocate(4, 5, 3)).Message);

    [Fact]
    public void First_key_not_int32_Throws()
    {
        var ex = ForwardThrows<ArgumentException>(c => c.FirstKey = Tensor.Allocate(2, 3));
        Assert.Equal("firstKey", ex.ParamName);
        Assert.Contains("expected Int32", ex.Message);
    }

    [Fact]
    public void First_key_of_wrong_shape_Throws()
    {
        // (B,Tk) instead of (B,Tq): one per query, not per key
        Assert.Contains("firstKey has shape (2, 5), expected (2, 3)",
            ForwardThrows<ShapeMismatchException>(c => c.FirstKey = Tensor.AllocateInt32(2, 5)).Message);
        ForwardThrows<ShapeMismatchException>(c => c.FirstKey = Tensor.AllocateInt32(6));
    }

    [Fact]
    public void First_key_outside_the_keys_Throws()
    {
        var ex = ForwardThrows<ArgumentOutOfRangeException>(c => c.FirstKey!.AsInt32Span()[5] = 6);
        Assert.Equal("firstKey", ex.ParamName);
        Assert.Contains("firstKey[1, 2] = 6 is outside [0, 5], the keys of keyValue (2, 5, 16)", ex.Message);
        Assert.Contains("firstKey[0, 1] = -1", ForwardThrows<ArgumentOutOfRangeException>(c => c.FirstKey!.AsInt32Span()[1] = -1).Message);
    }

    [Fact]
    public void Too_many_keys_Throws()
    {
        using var call = new Call { Mask = null, Bias = null, BiasGrad = null, FirstKey = null };
        call.KeyValue = Tensor.Allocate(2, CpuBackend.MaxAttentionTokens + 1, 16);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => call.Forward(_backend));
        Assert.Contains($"key length {CpuBackend.MaxAttentionTokens + 1}", ex.Message);
    }

    [Fact]
    public void Gradient_of_wrong_shape_Throws()
    {
        Assert.Contains("queryGrad", BackwardThrows<ShapeMismatchException>(c => c.QueryGrad = Tensor.Allocate(2, 3, 17)).Message);
        Assert.Contains("keyValueGrad", BackwardThrows<ShapeMismatchException>(c => c.KeyValueGrad = Tensor.Allocate(2, 3, 16)).Message);
        Assert.Contains("outputGrad", BackwardThrows<ShapeMismatchException>(c => c.OutputGrad = Tensor.Allocate(2, 3, 8)).Message);
        Assert.Contains("positionBiasGrad has shape (4, 3, 3), expected (4, 3, 5)",
            BackwardThrows<ShapeMismatchException>(c => c.BiasGrad = Tensor.Allocate(4, 3, 3)).Message);
        Assert.Contains("expected Float32", BackwardThrows<ArgumentException>(c => c.QueryGrad = Tensor.AllocateInt32(2, 3, 16)).Message);
    }

    [Fact]
    public void Backward_with_overlapping_key_and_value_columns_Throws()
    {
        var ex = BackwardThrows<ArgumentException>(c => c.Layout = c.Layout with { ValueColumn = 4 });
        Assert.Contains("key columns [0, 8) and value columns [4, 12) overlap", ex.Message);
    }

    [Fact]
    public void Backward_with_query_columns_overlapping_the_shared_gradient_Throws()
    {
        // self-attention on one (B,T,3·8) tensor whose query heads sit on top of its key heads
        var ex = BackwardThrows<ArgumentException>(c =>
        {
            c.Layout = new AttentionLayout(2, 2, 4, QueryColumn: 4, KeyColumn: 8, ValueColumn: 16, Causal: true, Scale: 0.5f);
            c.Query = c.KeyValue = Tensor.Allocate(2, 5, 24);
            c.QueryGrad = c.KeyValueGrad = Tensor.Allocate(2, 5, 24);
            c.Output = Tensor.Allocate(2, 5, 8);
            c.OutputGrad = Tensor.Allocate(2, 5, 8);
            c.Lse = Tensor.Allocate(2, 2, 5);
            c.Mask = c.Bias = c.BiasGrad = c.FirstKey = null;
        });
        Assert.Contains("query columns [4, 12) overlap", ex.Message);
    }

    private static void ExpectSentinelOutside(Tensor gradient, int[] columns, int[] widths)
    {
        var g = gradient.AsSpan();
        int width = gradient.Shape[2];
        for (int i = 0; i < g.Length; i++)
        {
            int column = i % width;
            bool inside = false;
            for (int k = 0; k < columns.Length; k++) inside |= column >= columns[k] && column < columns[k] + widths[k];
            if (inside) continue;
            Assert.Equal(Sentinel, g[i]);
            g[i] = 0f;
        }
    }

    // output (B,Tq,NH·hs) and lse (B,NH,Tq) straight from the definition, in double; lse +∞ where a query sees no key
    private static (double[] Output, double[] Lse) Reference(Case c, Inputs x)
    {
        var l = c.Layout;
        int hs = l.HeadSize, group = l.HeadCount / l.KeyValueHeadCount, tq = c.QueryCount, tk = c.KeyCount;
        var q = x.Query.AsSpan();
        var kv = x.KeyValue.AsSpan();
        var output = new double[c.Batch * tq * c.OutputWidth];
        var lse = new double[c.Batch * l.HeadCount * tq];
        for (int b = 0; b < c.Batch; b++)
        for (int h = 0; h < l.HeadCount; h++)
        for (int t = 0; t < tq; t++)
        {
            int g = h / group;
            var scores = new List<(int Key, double Score)>();
            for (int j = 0; j < tk; j++)
            {
                if (l.Causal && j > t + tk - tq) continue;
                if (c.Mask is not null && c.Mask[(b * tk) + j] == 0) continue;
                if (c.FirstKey is not null && j < c.FirstKey[(b * tq) + t]) continue;
                double s = 0;
                for (int d = 0; d < hs; d++)
                    s += q[(((b * tq) + t) * c.QueryWidth) + l.QueryColumn + (h * hs) + d] * (double)kv[(((b * tk) + j) * c.KeyValueWidth) + l.KeyColumn + (g * hs) + d];
                s *= l.Scale;
                if (x.Bias is not null) s += x.Bias.AsSpan()[(((h * tq) + t) * tk) + j];
                scores.Add((j, s));
            }
            int lseIndex = (((b * l.HeadCount) + h) * tq) + t;
            if (scores.Count == 0)
            {
                lse[lseIndex] = double.PositiveInfinity;
                continue;
            }
            double max = scores.Max(s => s.Score);
            double sum = scores.Sum(s => Math.Exp(s.Score - max));
            lse[lseIndex] = max + Math.Log(sum);
            for (int d = 0; d < hs; d++)
            {
                double o = 0;
                foreach (var (j, s) in scores) o += Math.Exp(s - max) / sum * kv[(((b * tk) + j) * c.KeyValueWidth) + l.ValueColumn + (g * hs) + d];
                output[(((b * tq) + t) * c.OutputWidth) + (h * hs) + d] = o;
            }
        }
        return (output, lse);
    }
}
