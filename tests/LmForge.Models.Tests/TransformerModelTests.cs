using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Optimization;
using Xunit.Abstractions;

namespace LmForge.Models.Tests;

/// <summary>
/// The transformer's configurations beyond GPT-2: every module composed into a model is checked against central
/// finite differences of the model's own loss (pre- and post-norm blocks, LayerNorm and RMSNorm, learned and rotary
/// positions, GELU (tanh and exact), SwiGLU and GeGLU MLPs, multi-head, grouped-query and multi-query attention,
/// causal and bidirectional, tied and untied heads), plus the Llama layout and its 64-bit description. (ReLU is checked
/// by the kernel tests only: a finite-difference step through a whole model moves some inputs across its kink.)
/// </summary>
public sealed class TransformerModelTests(ITestOutputHelper output)
{
    private static readonly TransformerConfig TinyLlama = TransformerConfig.Llama(vocabSize: 53, contextLength: 10, layerCount: 2, headCount: 4,
        keyValueHeadCount: 2, width: 24, intermediateSize: 20) with { NormEpsilon = 1e-6f, RopeTheta = 1000f };

    private static readonly TransformerConfig TinyGpt2 = TransformerConfig.Gpt2(53, 10, 2, 2, 16);

    public static TheoryData<string> Configurations => new()
    {
        "llama-gqa", "llama-mqa-tied", "gpt2", "post-norm-bidirectional", "gelu-exact-geglu-rms",
    };

    private static TransformerConfig Configuration(string name) => name switch
    {
        "llama-gqa" => TinyLlama,
        "llama-mqa-tied" => TinyLlama with { KeyValueHeadCount = 1, TiedEmbeddings = true },
        "gpt2" => TinyGpt2,
        // BERT's block structure: norm(x + f(x)), no final norm, bidirectional attention, exact GELU, epsilon 1e-12
        "post-norm-bidirectional" => TinyGpt2 with { PreNorm = false, Causal = false, Activation = Activation.GeluExact, NormEpsilon = 1e-12f },
        "gelu-exact-geglu-rms" => TinyGpt2 with
        {
            Norm = NormKind.RmsNorm, NormBias = false, Activation = Activation.GeluExact, GatedMlp = true, IntermediateSize = 24,
            Positions = PositionKind.Rotary, AttentionBias = false,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Every_parameter_gradient_matches_finite_differences_of_the_loss(string name)
    {
        var config = Configuration(name);
        var random = new Random(20230828);
        using var model = new TransformerModel(config);
        model.InitializeWeights(seed: 11);
        ModelGradientCheck.RandomizeWeights(model, random);
        int b = 2, t = 7;
        int[] tokens = Enumerable.Range(0, b * t).Select(_ => random.Next(config.VocabSize)).ToArray();
        int[] targets = Enumerable.Range(0, b * t).Select(_ => random.Next(config.VocabSize)).ToArray();
        targets[3] = -1;

        model.ZeroGradients();
        model.Forward(tokens, targets, b, t);
        model.Backward();
        ModelGradientCheck.Check(name, model, model.Gradients.ToArray(), () => model.Forward(tokens, targets, b, t), random, output);
    }

    // Adding tokens (the chat markers) keeps every old token's embedding and logit; the new rows are the old rows' mean.
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void A_grown_vocabulary_keeps_every_old_logit(string family)
    {
        var config = family == "gpt2" ? TinyGpt2 : TinyLlama;
        using var model = new TransformerModel(config, trainable: false);
        model.InitializeWeights(seed: 12);
        using var grown = model.WithVocabulary(config.VocabSize + 3);
        Assert.Equal(config.VocabSize + 3, grown.Config.VocabSize);
        int[] tokens = [.. Enumerable.Range(0, 20).Select(i => (i * 7) % config.VocabSize)];
        model.Forward(tokens, 2, 10);
        grown.Forward(tokens, 2, 10);
        float[] before = model.Backend.ToHost(model.Logits), after = grown.Backend.ToHost(grown.Logits);
        for (int row = 0; row < 20; row++)
        {
            Assert.Equal(before.AsSpan(row * config.PaddedVocabSize, config.VocabSize).ToArray(),
                after.AsSpan(row * grown.Config.PaddedVocabSize, config.VocabSize).ToArray());
        }
        string embedding = family == "gpt2" ? "wte.weight" : "model.embed_tokens.weight";
        float[] rows = grown.Backend.ToHost(grown.GetParameter(embedding));
        int width = config.Width;
        for (int c = 0; c < width; c++)
        {
            double mean = Enumerable.Range(0, config.VocabSize).Average(r => (double)rows[(r * width) + c]);
            for (int added = config.VocabSize; added < config.VocabSize + 3; added++) Assert.Equal(mean, rows[(added * width) + c], 1e-6);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => model.WithVocabulary(config.VocabSize - 1));
    }

    [Fact]
    public void Llama_layout_uses_its_family_names_with_decayed_matrices_first()
    {
        using var model = new TransformerModel(TinyLlama);
        Assert.Equal([24 + 2 * 12, 24], model.GetParameterInfo("model.layers.1.self_attn.qkv_proj.weight").Shape.Dimensions.ToArray()); // q 4·6, k and v 2·6 each
        Assert.Equal([2 * 20, 24], model.GetParameterInfo("model.layers.0.mlp.gate_up_proj.weight").Shape.Dimensions.ToArray());
        Assert.Equal([128, 24], model.GetParameterInfo("lm_head.weight").Shape.Dimensions.ToArray()); // untied, padded to 128 rows
        Assert.False(model.HasParameter("model.embed_positions.weight")); // rotary: no position table
        Assert.DoesNotContain(model.ParameterLayout, p => p.Name.EndsWith(".bias", StringComparison.Ordinal));
        bool seenVector = false;
        long offset = 0;
        foreach (var p in model.ParameterLayout)
        {
            Assert.Equal(offset, p.Offset);
            offset += p.Length;
            Assert.Equal(p.Shape.Rank == 2, p.WeightDecay);
            if (!p.WeightDecay) seenVector = true;
            else Assert.False(seenVector, $"{p.Name} is decayed but comes after a non-decayed parameter");
        }
        Assert.Equal(model.ParameterCount, offset);
    }

    [Fact]
    public void Layouts_above_two_billion_parameters_are_described_with_64_bit_offsets()
    {
        // Llama 2 7B: 6,738,415,616 parameters as Hugging Face counts them (the vocabulary of 32,000 needs no padding)
        var llama7b = TransformerConfig.Llama(32000, 4096, 32, 32, 32, 4096, 11008) with { VocabPadding = 128 };
        var layout = TransformerModel.DescribeLayout(llama7b);
        Assert.Equal(6_738_415_616L, layout.Sum(p => p.Length));
        Assert.True(layout[^1].Offset > int.MaxValue);
        // GPT-2 XL: 1,557,611,200 parameters plus 47 padded vocabulary rows of 1,600
        Assert.Equal(1_557_686_400L, TransformerModel.DescribeLayout(TransformerConfig.Gpt2(50257, 1024, 48, 25, 1600)).Sum(p => p.Length));
    }

    [Fact]
    public void Llama_training_step_allocates_nothing_after_the_first()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(TinyLlama);
        model.InitializeWeights(seed: 1);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        int[] tokens = Enumerable.Range(0, 20).Select(_ => random.Next(TinyLlama.VocabSize)).ToArray();
        int[] targets = Enumerable.Range(0, 20).Select(_ => random.Next(TinyLlama.VocabSize)).ToArray();
        model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f);
        model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Llama_logits_are_causal_and_independent_of_the_planned_length()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(TinyLlama);
        model.InitializeWeights(seed: 9);
        int[] tokens = Enumerable.Range(0, 10).Select(_ => random.Next(TinyLlama.VocabSize)).ToArray();
        int vp = TinyLlama.PaddedVocabSize;
        model.Forward(tokens, 1, 10);
        float[] full = model.Logits.ToArray();
        model.Forward(tokens.AsSpan(0, 6), 1, 6);
        float[] prefix = model.Logits.ToArray();
        for (int i = 0; i < 6 * vp; i++) Assert.Equal(full[i], prefix[i], 1e-5f);
        tokens[9] = (tokens[9] + 1) % TinyLlama.VocabSize;
        model.Forward(tokens, 1, 10);
        float[] changed = model.Logits.ToArray();
        for (int i = 0; i < 9 * vp; i++) Assert.Equal(full[i], changed[i], 1e-5f);
    }

    public static TheoryData<string, string> BadConfigs => new()
    {
        { "heads", "TransformerConfig.Width must be a positive multiple of HeadCount 5" },
        { "kv-heads", "TransformerConfig.KeyValueHeadCount must divide HeadCount 4, got 3" },
        { "odd-rotary", "rotary embeddings need an even head size" },
        { "family", "TransformerConfig.Family is \"mistral\"" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Invalid_configs_name_the_field(string defect, string expected)
    {
        var config = defect switch
        {
            "heads" => TinyLlama with { HeadCount = 5, KeyValueHeadCount = 1 },
            "kv-heads" => TinyLlama with { KeyValueHeadCount = 3 },
            "odd-rotary" => TinyLlama with { Width = 20, HeadCount = 4, KeyValueHeadCount = 2 },
            _ => TinyLlama with { Family = "mistral" },
        };
        var error = Assert.ThrowsAny<ArgumentException>(() => new TransformerModel(config));
        Assert.Contains(expected, error.Message);
    }
}
