using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Optimization;
using LmForge.Tensors.SafeTensors;
using LmForge.Tests.Shared;
using Xunit.Abstractions;

namespace LmForge.Models.Tests;

/// <summary>
/// The BERT-style encoder against PyTorch (tests/reference/bert_torch.py, Hugging Face BertForMaskedLM's math run in
/// float64 by make_bert_fixtures.py) at a tiny size with odd dimensions (vocabulary 67, width 40 = 4 heads of 10,
/// intermediate 72, 16 positions, a 13-token masked batch): logits, the masked-LM loss, every parameter gradient, and
/// 5 clipped AdamW steps. The fixture holds Hugging Face tensors (attention.self.query, key, value, cls.predictions.bias,
/// ...), so every comparison also goes through the checkpoint map that splits our fused q/k/v into theirs. Also: a
/// checkpoint round trip, finite differences of a tiny BERT's whole backward, and an allocation-free training step.
/// Errors are measured per tensor relative to its largest reference value.
/// </summary>
public sealed class BertReferenceTests(ITestOutputHelper output) : IDisposable
{
    private const double LogitsTolerance = 1e-5;     // max |ours − torch| / max |torch|
    private const double LossTolerance = 1e-5;       // relative
    private const double GradientTolerance = 1e-4;   // per tensor, max |ours − torch| / max |torch|
    private const double TrainedParameterTolerance = 1e-4; // absolute, after 5 AdamW steps (as LlamaReferenceTests)

    private static readonly TransformerConfig Tiny = TransformerConfig.Bert(vocabSize: 29, contextLength: 12, layerCount: 2, headCount: 2,
        width: 12, intermediateSize: 20);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lmforge-bert-ref-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // on memory the host cannot address: the model reaches it only through the backend
    public void Logits_masked_lm_loss_and_every_gradient_match_pytorch(bool hostless)
    {
        using var fixture = new BertFixture();
        using var model = new TransformerModel(fixture.Config, hostless ? new HostlessBackend() : null);
        ModelCheckpoint.LoadWeights(model, fixture.WriteHuggingFaceFile("param.", _directory));
        int b = fixture.BatchSize, t = fixture.SequenceLength, v = fixture.Config.VocabSize, vp = fixture.Config.PaddedVocabSize;

        model.ZeroGradients();
        float loss = model.Forward(fixture.ReadInt32("tokens"), fixture.ReadInt32("targets"), b, t);
        float expectedLoss = fixture.Read("loss")[0];
        Assert.True(Math.Abs(loss - expectedLoss) <= LossTolerance * Math.Abs(expectedLoss), $"loss {loss} vs torch {expectedLoss}");
        float[] padded = model.Backend.ToHost(model.Logits);
        var logits = new float[b * t * v];
        for (int row = 0; row < b * t; row++)
        {
            padded.AsSpan(row * vp, v).CopyTo(logits.AsSpan(row * v));
            Assert.All(padded.AsSpan((row * vp) + v, vp - v).ToArray(), x => Assert.Equal(0f, x)); // padded head rows and bias are zero
        }
        ReferenceAssert.Close(output, "logits", fixture.Read("logits"), logits, LogitsTolerance);
        var predicted = new int[b * t];
        model.PredictTokens(predicted);
        Assert.Equal(Enumerable.Range(0, b * t).Select(row => Array.IndexOf(logits, logits.AsSpan(row * v, v).ToArray().Max(), row * v) - (row * v)), predicted);

        model.Backward();
        Assert.Throws<InvalidOperationException>(() => model.PredictTokens(predicted)); // the backward overwrote the logits
        // our gradient buffer has the parameter layout: written through the checkpoint map it becomes Hugging Face tensors
        using var gradients = new TransformerModel(fixture.Config, model.Backend);
        gradients.Backend.CopyFromHost(gradients.Parameters, model.Backend.ToHost(model.Gradients));
        CompareWithFixture(fixture, gradients, "grad.", GradientTolerance);
    }

    [Fact]
    public void Five_AdamW_steps_with_clipping_match_pytorch()
    {
        using var fixture = new BertFixture();
        using var model = new TransformerModel(fixture.Config);
        ModelCheckpoint.LoadWeights(model, fixture.WriteHuggingFaceFile("param.", _directory));
        var settings = new AdamWSettings(fixture.Float("beta1"), fixture.Float("beta2"), fixture.Float("eps"), fixture.Float("weight_decay"));
        using var optimizer = model.CreateOptimizer(settings);
        int b = fixture.BatchSize, t = fixture.SequenceLength, n = b * t;
        int[] tokens = fixture.ReadInt32("train.tokens");
        int[] targets = fixture.ReadInt32("train.targets");
        float[] losses = fixture.Read("train.losses");
        float[] norms = fixture.Read("train.grad_norms");
        for (int step = 0; step < fixture.Int("steps"); step++)
        {
            var result = model.TrainStep(tokens.AsSpan(step * n, n), targets.AsSpan(step * n, n), b, t, optimizer, fixture.Float("lr"), fixture.Float("max_grad_norm"));
            Assert.True(Math.Abs(result.Loss - losses[step]) <= 1e-4 * losses[step], $"step {step + 1}: loss {result.Loss} vs torch {losses[step]}");
            double normTolerance = step == 0 ? 1e-5 : 2e-4;
            Assert.True(Math.Abs(result.GradientNorm - norms[step]) <= normTolerance * norms[step], $"step {step + 1}: gradient norm {result.GradientNorm} vs torch {norms[step]}");
        }
        CompareWithFixture(fixture, model, "param_after.", TrainedParameterTolerance, absolute: true);
    }

    [Fact]
    public void Fixture_is_a_masked_batch_with_clipping_that_bites()
    {
        using var fixture = new BertFixture();
        int[] tokens = fixture.ReadInt32("tokens"), targets = fixture.ReadInt32("targets");
        int masked = targets.Count(x => x >= 0);
        Assert.InRange(masked, 3, tokens.Length / 2); // the loss is over a few chosen positions only
        Assert.Contains(fixture.Int("mask_token_id"), tokens);
        Assert.True(fixture.SequenceLength < fixture.Config.ContextLength);
        Assert.True(fixture.Config.PaddedVocabSize > fixture.Config.VocabSize);
        Assert.All(fixture.Read("train.grad_norms"), norm => Assert.True(norm > fixture.Float("max_grad_norm"), $"clipping must bite: norm {norm}"));
    }

    [Fact]
    public void Save_then_load_reproduces_the_logits_in_hugging_face_layout()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 3);
        ModelGradientCheck.RandomizeWeights(model, random); // nonzero biases and uneven norm gains, so every tensor matters
        int[] tokens = Enumerable.Range(0, 20).Select(_ => random.Next(Tiny.VocabSize)).ToArray();
        model.Forward(tokens, 2, 10);
        float[] logits = model.Logits.ToArray();

        string directory = Path.Combine(_directory, "step-1");
        ModelCheckpoint.Save(model, directory);
        using var restored = ModelCheckpoint.Load(directory);
        Assert.Equal(model.Config, restored.Config);
        Assert.Equal(model.Parameters.ToArray(), restored.Parameters.ToArray());
        restored.Forward(tokens, 2, 10);
        Assert.Equal(logits, restored.Logits.ToArray());

        using var file = SafeTensorsFile.Open(Path.Combine(directory, ModelCheckpoint.WeightsFileName));
        Assert.Equal([12, 12], file.Tensors["bert.encoder.layer.1.attention.self.key.weight"].Shape);
        Assert.Equal([12], file.Tensors["bert.encoder.layer.1.attention.self.value.bias"].Shape);
        Assert.Equal([29, 12], file.Tensors["bert.embeddings.word_embeddings.weight"].Shape); // the real vocabulary, not the 128 padded rows
        Assert.Equal([29], file.Tensors["cls.predictions.bias"].Shape);
        Assert.Equal([2, 12], file.Tensors["bert.embeddings.token_type_embeddings.weight"].Shape);
        Assert.DoesNotContain(file.Tensors.Keys, n => n.Contains(".qkv", StringComparison.Ordinal) || n.Contains("decoder", StringComparison.Ordinal));
        string config = File.ReadAllText(Path.Combine(directory, ModelCheckpoint.ConfigFileName));
        Assert.Contains("\"model_type\": \"bert\"", config);
        Assert.Contains("\"BertForMaskedLM\"", config);
        Assert.Contains("\"hidden_act\": \"gelu\"", config);
        Assert.Contains("\"layer_norm_eps\": 1E-12", config);
        Assert.Contains("\"type_vocab_size\": 2", config);
    }

    [Fact]
    public void Loading_skips_the_tied_decoder_and_what_pretraining_files_add_but_refuses_unknown_tensors()
    {
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 4);
        string path = Path.Combine(_directory, "extra.safetensors");
        Directory.CreateDirectory(_directory);
        ModelCheckpoint.SaveWeights(model, path);
        var entries = new List<SafeTensorEntry>();
        float[] wordEmbeddings;
        using (var saved = SafeTensorsFile.Open(path))
        {
            foreach (var (name, info) in saved.Tensors) entries.Add(new(name, info.Shape.ToArray(), saved.ReadFloat32(name, info.Shape.ToArray())));
            wordEmbeddings = saved.ReadFloat32("bert.embeddings.word_embeddings.weight", [29, 12]);
        }
        string withExtras = Path.Combine(_directory, "with-extras.safetensors");
        SafeTensorsFile.Write(withExtras, [.. entries, new SafeTensorEntry("cls.predictions.decoder.weight", [29, 12], wordEmbeddings),
            new SafeTensorEntry("bert.pooler.dense.bias", [12], new float[12]), new SafeTensorEntry("cls.seq_relationship.bias", [2], new float[2])]);
        using var loaded = new TransformerModel(Tiny);
        ModelCheckpoint.LoadWeights(loaded, withExtras);
        Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());

        string unknown = Path.Combine(_directory, "unknown.safetensors");
        SafeTensorsFile.Write(unknown, [.. entries, new SafeTensorEntry("bert.encoder.layer.0.attention.self.qkv.weight", [36, 12], new float[36 * 12])]);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(loaded, unknown));
        Assert.Contains("tensor 'bert.encoder.layer.0.attention.self.qkv.weight' is not part of a BERT", error.Message);
    }

    [Theory]
    [InlineData("{\"model_type\":\"bert\",\"vocab_size\":29,\"hidden_size\":12,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":20,\"max_position_embeddings\":12,\"position_embedding_type\":\"relative_key\"}",
        "field 'position_embedding_type' is \"relative_key\", expected \"absolute\"")]
    [InlineData("{\"model_type\":\"bert\",\"vocab_size\":29,\"hidden_size\":12,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":20,\"max_position_embeddings\":12,\"is_decoder\":true}",
        "field 'is_decoder' is true, expected false")]
    [InlineData("{\"model_type\":\"bert\",\"vocab_size\":29,\"hidden_size\":12,\"num_hidden_layers\":2,\"num_attention_heads\":5,\"intermediate_size\":20,\"max_position_embeddings\":12}",
        "field 'num_attention_heads' is 5, which does not divide 'hidden_size' = 12")]
    public void A_bert_config_we_do_not_implement_is_a_one_line_error(string json, string expected)
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.ReadConfig(path));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 11);
        ModelGradientCheck.RandomizeWeights(model, random);
        int b = 2, t = 7;
        int[] tokens = Enumerable.Range(0, b * t).Select(_ => random.Next(Tiny.VocabSize)).ToArray();
        int[] targets = Enumerable.Repeat(-1, b * t).ToArray();
        foreach (int i in (int[])[1, 4, 5, 8, 12]) targets[i] = random.Next(Tiny.VocabSize); // masked-LM: a few positions only

        model.ZeroGradients();
        model.Forward(tokens, targets, b, t);
        model.Backward();
        float[] gradients = model.Gradients.ToArray();
        ModelGradientCheck.Check("bert", model, gradients, () => model.Forward(tokens, targets, b, t), random, output);
    }

    [Fact]
    public void Training_step_allocates_nothing_after_the_first()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 1);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        int[] tokens = Enumerable.Range(0, 20).Select(_ => random.Next(Tiny.VocabSize)).ToArray();
        int[] targets = tokens.Select((x, i) => i % 5 == 2 ? x : -1).ToArray();
        model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f);
        model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f);

        long before = GC.GetAllocatedBytesForCurrentThread();
        float loss = 0;
        for (int i = 0; i < 3; i++) loss = model.TrainStep(tokens, targets, 2, 10, optimizer, 1e-3f, 1f).Loss;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(float.IsFinite(loss));
    }

    [Fact]
    public void Token_types_add_their_own_row_and_train_it()
    {
        var random = new Random(20230830);
        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 12);
        ModelGradientCheck.RandomizeWeights(model, random);
        int b = 2, t = 7;
        int[] tokens = Enumerable.Range(0, b * t).Select(_ => random.Next(Tiny.VocabSize)).ToArray();
        int[] targets = tokens.Select((x, i) => i % 3 == 1 ? x : -1).ToArray();
        int[] types = Enumerable.Range(0, b * t).Select(i => i % t < 4 ? 0 : 1).ToArray(); // segment A, then segment B

        // all-B tokens equal all-A tokens of a model whose row A holds row B's values
        float allB = model.Forward(tokens, targets, b, t, tokenTypes: Enumerable.Repeat(1, b * t).ToArray());
        float allA = model.Forward(tokens, targets, b, t);
        using var swapped = new TransformerModel(Tiny);
        swapped.Backend.CopyFromHost(swapped.Parameters, model.Backend.ToHost(model.Parameters));
        var table = swapped.GetParameter("bert.embeddings.token_type_embeddings.weight").AsSpan();
        table[Tiny.Width..].CopyTo(table[..Tiny.Width]);
        Assert.Equal(allB, swapped.Forward(tokens, targets, b, t));
        Assert.NotEqual(allA, allB);

        // mixed segments: the backward matches finite differences, and both rows of the table get a gradient
        model.ZeroGradients();
        model.Forward(tokens, targets, b, t, tokenTypes: types);
        model.Backward();
        float[] gradients = model.Gradients.ToArray();
        var info = model.GetParameterInfo("bert.embeddings.token_type_embeddings.weight");
        Assert.Contains(gradients.AsSpan((int)info.Offset, Tiny.Width).ToArray(), g => g != 0);
        Assert.Contains(gradients.AsSpan((int)info.Offset + Tiny.Width, Tiny.Width).ToArray(), g => g != 0);
        ModelGradientCheck.Check("bert with segments", model, gradients, () => model.Forward(tokens, targets, b, t, tokenTypes: types), random, output);

        // a forward without types goes back to type 0 everywhere
        Assert.Equal(allA, model.Forward(tokens, targets, b, t));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, targets, b, t, tokenTypes: Enumerable.Repeat(2, b * t).ToArray()));
        Assert.Contains("tokenTypes[0] = 2 is outside [0, 2)", error.Message);
    }

    [Fact]
    public void A_bert_has_no_kv_cache()
    {
        using var model = new TransformerModel(Tiny, trainable: false);
        Assert.Throws<InvalidOperationException>(() => model.CreateCache(1));
    }

    // Saves the model through the BERT map and compares every file tensor with the fixture's tensor of that name.
    private void CompareWithFixture(BertFixture fixture, TransformerModel model, string prefix, double tolerance, bool absolute = false)
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, prefix.TrimEnd('.') + ".safetensors");
        ModelCheckpoint.SaveWeights(model, path);
        fixture.CompareWithSaved(output, path, prefix, tolerance, absolute, (name, expected, actual) =>
        {
            if (absolute || !name.EndsWith(".attention.self.key.bias", StringComparison.Ordinal)) return false;
            // q·(k + b) adds q·b to every score of a query, which softmax ignores: the key bias's gradient is exactly
            // 0, so both sides hold rounding noise (torch ~1e-20 in float64, ours ~1e-11 in float32)
            double largest = actual.Max(x => Math.Abs((double)x));
            output.WriteLine($"{prefix}{name}: exactly 0 in exact math; largest |ours| {largest:E2}");
            Assert.All(expected, x => Assert.True(Math.Abs(x) < 1e-12, $"{prefix}{name}: torch {x}, expected 0"));
            Assert.True(largest <= 1e-8, $"{prefix}{name}: largest |ours| {largest:E2}, expected 0 up to rounding");
            return true;
        });
    }
}

/// <summary>The PyTorch BERT fixture (tests/reference/make_bert_fixtures.py) opened for reading.</summary>
internal sealed class BertFixture : ReferenceFixture
{
    public BertFixture() : base("bert_tiny")
    {
        Config = TransformerConfig.Bert(Int("vocab_size"), Int("max_position_embeddings"), Int("num_hidden_layers"), Int("num_attention_heads"),
            Int("hidden_size"), Int("intermediate_size")) with
        {
            NormEpsilon = Float("layer_norm_eps"),
            TokenTypeCount = Int("type_vocab_size"),
        };
        BatchSize = Int("batch");
        SequenceLength = Int("seq");
    }

    public TransformerConfig Config { get; }
    public int BatchSize { get; }
    public int SequenceLength { get; }
}
