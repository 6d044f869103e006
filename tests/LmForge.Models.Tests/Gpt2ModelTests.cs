using LmForge.Models.Transformer;
using LmForge.Tensors.Optimization;

// The allocation test reads the process-wide allocation counter; other tests running beside it would disturb it.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace LmForge.Models.Tests;

public sealed class Gpt2ModelTests
{
    private static readonly TransformerConfig Tiny = TransformerConfig.Gpt2(61, 12, 2, 2, 32);

    private static (int[] Tokens, int[] Targets) Batch(Random random, TransformerConfig config, int batch, int seq)
    {
        var tokens = new int[batch * seq];
        var targets = new int[batch * seq];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = random.Next(config.VocabSize);
            targets[i] = random.Next(config.VocabSize);
        }
        return (tokens, targets);
    }

    [Fact]
    public void Gpt2_small_layout_has_the_published_parameter_count()
    {
        // llm.c reports 124,475,904 parameters for GPT-2 124M with the vocabulary padded to 50304.
        var layout = TransformerModel.DescribeLayout(TransformerConfig.Gpt2Small);
        Assert.Equal(50304, TransformerConfig.Gpt2Small.PaddedVocabSize);
        Assert.Equal(124_475_904L, layout.Sum(p => p.Length));
    }

    [Fact]
    public void Layout_is_contiguous_with_decayed_matrices_first()
    {
        using var model = new TransformerModel(Tiny);
        long offset = 0;
        bool seenVector = false;
        foreach (var p in model.ParameterLayout)
        {
            Assert.Equal(offset, p.Offset);
            offset += p.Length;
            Assert.Equal(p.Shape.Rank == 2, p.WeightDecay);
            if (!p.WeightDecay) seenVector = true;
            else Assert.False(seenVector, $"{p.Name} is decayed but comes after a non-decayed parameter");
        }
        Assert.Equal(model.ParameterCount, offset);
        Assert.Equal(model.ParameterLayout.Where(p => p.WeightDecay).Sum(p => p.Length), model.DecayedParameterCount);
        Assert.Equal(model.ParameterLayout.Count, model.ParameterLayout.Select(p => p.Name).Distinct().Count());
        Assert.Equal(new[] { 3 * 32, 32 }, model.GetParameterInfo("h.1.attn.c_attn.weight").Shape.Dimensions.ToArray());
    }

    [Fact]
    public unsafe void Named_views_point_into_the_single_buffers()
    {
        using var model = new TransformerModel(Tiny);
        var info = model.GetParameterInfo("h.0.mlp.c_fc.bias");
        Assert.True(model.GetParameter(info.Name).Pointer == model.Parameters.Pointer + info.Offset);
        Assert.True(model.GetGradient(info.Name).Pointer == model.Gradients.Pointer + info.Offset);
        Assert.Throws<KeyNotFoundException>(() => model.GetParameter("transformer.wte.weight"));
    }

    [Fact]
    public void Initialization_follows_gpt2()
    {
        var config = Tiny with { Width = 64, IntermediateSize = 256, LayerCount = 3, HeadCount = 4, KeyValueHeadCount = 4 };
        using var model = new TransformerModel(config);
        model.InitializeWeights(seed: 42);
        static double Std(float[] v) => Math.Sqrt(v.Select(x => (double)x * x).Average());
        Assert.Equal(0.02, Std(model.GetParameter("h.0.mlp.c_fc.weight").ToArray()), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(6), Std(model.GetParameter("h.2.mlp.c_proj.weight").ToArray()), 0.0005);
        Assert.Equal(0.02 / Math.Sqrt(6), Std(model.GetParameter("h.1.attn.c_proj.weight").ToArray()), 0.0007);
        Assert.All(model.GetParameter("h.1.ln_2.weight").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.GetParameter("h.1.attn.c_attn.bias").ToArray(), v => Assert.Equal(0f, v));
        float[] wte = model.GetParameter("wte.weight").ToArray();
        Assert.All(wte.AsSpan(config.VocabSize * 64).ToArray(), v => Assert.Equal(0f, v)); // padded rows
        Assert.Equal(0.02, Std(wte.AsSpan(0, config.VocabSize * 64).ToArray()), 0.001);

        using var again = new TransformerModel(config);
        again.InitializeWeights(seed: 42);
        Assert.Equal(model.Parameters.ToArray(), again.Parameters.ToArray());
    }

    [Fact]
    public void Training_step_allocates_nothing_after_the_first()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 1);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        var (tokens, targets) = Batch(random, Tiny, 2, 12);
        model.TrainStep(tokens, targets, 2, 12, optimizer, 1e-3f, 1f);
        model.TrainStep(tokens, targets, 2, 12, optimizer, 1e-3f, 1f);

        long threadBefore = GC.GetAllocatedBytesForCurrentThread();
        float loss = 0;
        for (int i = 0; i < 3; i++) loss = model.TrainStep(tokens, targets, 2, 12, optimizer, 1e-3f, 1f).Loss;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - threadBefore);

        // The process-wide counter also sees the worker pool's threads, but the test host allocates on its own
        // threads now and then. An allocation in the step would show in every attempt, so the quietest must be 0.
        long quietest = long.MaxValue;
        for (int attempt = 0; attempt < 5 && quietest != 0; attempt++)
        {
            long processBefore = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 3; i++) loss = model.TrainStep(tokens, targets, 2, 12, optimizer, 1e-3f, 1f).Loss;
            quietest = Math.Min(quietest, GC.GetTotalAllocatedBytes(precise: true) - processBefore);
        }
        Assert.Equal(0, quietest);
        Assert.True(float.IsFinite(loss) && optimizer.StepCount >= 8);
    }

    [Fact]
    public void Training_on_one_batch_drives_the_loss_down()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 3);
        using var optimizer = model.CreateOptimizer(new AdamWSettings(WeightDecay: 0f));
        var (tokens, targets) = Batch(random, Tiny, 2, 12);
        float first = model.TrainStep(tokens, targets, 2, 12, optimizer, 3e-3f, 1f).Loss;
        Assert.Equal(Math.Log(Tiny.VocabSize), first, 0.1); // near-uniform predictions at init
        float last = first;
        for (int i = 0; i < 40; i++) last = model.TrainStep(tokens, targets, 2, 12, optimizer, 3e-3f, 1f).Loss;
        Assert.True(last < first * 0.5, $"loss went from {first} to {last}");
    }

    [Fact]
    public void Non_finite_loss_stops_before_the_update_and_names_the_step()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 1);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        var (tokens, targets) = Batch(random, Tiny, 1, 8);
        model.TrainStep(tokens, targets, 1, 8, optimizer, 1e-3f, 1f);
        model.GetParameter("ln_f.weight").AsSpan()[3] = float.NaN;
        float[] before = model.Parameters.ToArray();

        var ex = Assert.Throws<NonFiniteLossException>(() => model.TrainStep(tokens, targets, 1, 8, optimizer, 1e-3f, 1f));
        Assert.Equal(2, ex.Step);
        Assert.Contains("step 2", ex.Message);
        Assert.Equal(1, optimizer.StepCount);
        Assert.Equal(before, model.Parameters.ToArray());
    }

    [Fact]
    public void Accumulated_half_batches_equal_one_full_backward()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 5);
        var (tokens, targets) = Batch(random, Tiny, 2, 6);
        model.ZeroGradients();
        model.Forward(tokens, targets, 2, 6);
        model.Backward();
        float[] full = model.Gradients.ToArray();

        model.ZeroGradients();
        model.Forward(tokens.AsSpan(0, 6), targets.AsSpan(0, 6), 1, 6);
        model.Backward(0.5f);
        model.Forward(tokens.AsSpan(6, 6), targets.AsSpan(6, 6), 1, 6);
        model.Backward(0.5f);
        float[] accumulated = model.Gradients.ToArray();
        double scale = full.Max(v => Math.Abs((double)v));
        for (int i = 0; i < full.Length; i++) Assert.True(Math.Abs(full[i] - accumulated[i]) <= 1e-5 * scale, $"gradient {i}: {full[i]} vs {accumulated[i]}");
    }

    [Fact]
    public void Logits_are_causal_and_the_same_for_any_planned_length()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 9);
        var (tokens, _) = Batch(random, Tiny, 1, 10);
        int vp = Tiny.PaddedVocabSize;
        model.Forward(tokens, 1, 10);
        float[] full = model.Logits.ToArray();

        model.Forward(tokens.AsSpan(0, 6), 1, 6); // shorter: re-planned inside the same memory
        float[] prefix = model.Logits.ToArray();
        for (int i = 0; i < 6 * vp; i++) Assert.Equal(full[i], prefix[i], 1e-5f);

        tokens[9] = (tokens[9] + 1) % Tiny.VocabSize; // changing the last token changes only the last position
        model.Forward(tokens, 1, 10);
        float[] changed = model.Logits.ToArray();
        for (int i = 0; i < 9 * vp; i++) Assert.Equal(full[i], changed[i], 1e-5f);
        Assert.NotEqual(full.AsSpan(9 * vp, vp).ToArray(), changed.AsSpan(9 * vp, vp).ToArray());
    }

    [Fact]
    public void Token_outside_vocabulary_is_a_clear_error()
    {
        using var model = new TransformerModel(Tiny);
        int[] tokens = [1, 2, 61, 3];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, 1, 4));
        Assert.Contains("tokens[2] = 61 is outside the vocabulary [0, 61)", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward([1, -1, 2, 3], 1, 4));
        // 61 < padded vocabulary 128 would still be a valid row of the embedding: the model must reject it anyway
        var target = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward([1, 2, 3, 4], [1, 2, 61, -1], 1, 4));
        Assert.Contains("targets[2] = 61", target.Message);
    }

    [Fact]
    public void Sequence_longer_than_context_is_a_clear_error()
    {
        using var model = new TransformerModel(Tiny);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(new int[13], 1, 13));
        Assert.Contains("sequence length 13 is outside [1, 12]", ex.Message);
    }

    [Fact]
    public void Mismatched_token_counts_are_clear_errors()
    {
        using var model = new TransformerModel(Tiny);
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(new int[10], 2, 4));
        Assert.Contains("expected batch size 2 × sequence length 4 = 8", ex.Message);
        Assert.Throws<ArgumentException>(() => model.Forward(new int[8], new int[7], 2, 4));
        Assert.Throws<InvalidOperationException>(() => model.Backward());
    }

    [Fact]
    public void Invalid_config_names_the_field()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerModel(Tiny with { Width = 33 }));
        Assert.Contains("Width", ex.Message);
    }
}
