using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;
using LmForge.Tensors.Optimization;
using LmForge.Tensors.SafeTensors;
using LmForge.Tests.Shared;
using Xunit.Abstractions;

namespace LmForge.Models.Tests;

/// <summary>
/// The T5-style encoder-decoder against PyTorch (tests/reference/t5_torch.py, Hugging Face T5ForConditionalGeneration's
/// math run in float64 by make_t5_fixtures.py) at two tiny sizes: t5_relu_tied (ReLU MLP, head tied to the shared
/// embedding and scaled by 1/√d_model) and t5_gated_odd (gated tanh-GELU MLP, untied lm_head, 3 heads of 7 = 21 ≠
/// d_model 20, an encoder longer than the relative max distance so the log-spaced buckets are used): logits, the
/// loss on a batch with ignored target tails, every parameter gradient, 5 clipped AdamW steps, and the relative position
/// buckets. The fixtures hold Hugging Face tensors (q, k, v, EncDecAttention.k/v, wi_0/wi_1), so each comparison also goes
/// through the checkpoint map that splits our fused matrices. Also: checkpoint round trip, finite differences,
/// an allocation-free step, and decoding with the KV cache against the teacher-forced forward.
/// </summary>
public sealed class T5ReferenceTests(ITestOutputHelper output) : IDisposable
{
    private const double LogitsTolerance = 1e-5;
    private const double LossTolerance = 1e-5;
    private const double GradientTolerance = 1e-4;
    private const double TrainedParameterTolerance = 1e-4;

    private static readonly TransformerConfig TinyTied = TransformerConfig.T5(vocabSize: 31, contextLength: 24, layerCount: 2, decoderLayerCount: 2,
        headCount: 2, width: 12, intermediateSize: 20) with { RelativeAttentionBuckets = 8, RelativeAttentionMaxDistance = 10 };
    private static readonly TransformerConfig TinyGated = TransformerConfig.T5(vocabSize: 29, contextLength: 24, layerCount: 1, decoderLayerCount: 2,
        headCount: 3, width: 10, intermediateSize: 14, gated: true, headSize: 4) with { RelativeAttentionBuckets = 6, RelativeAttentionMaxDistance = 9 };

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lmforge-t5-ref-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("t5_relu_tied", false)]
    [InlineData("t5_gated_odd", false)]
    [InlineData("t5_gated_odd", true)] // on memory the host cannot address: the model reaches it only through the backend
    public void Logits_loss_and_every_gradient_match_pytorch(string name, bool hostless)
    {
        using var fixture = new T5Fixture(name);
        using var model = new EncoderDecoderModel(fixture.Config, hostless ? new HostlessBackend() : null);
        ModelCheckpoint.LoadWeights(model, fixture.WriteHuggingFaceFile("param.", _directory));
        int b = fixture.BatchSize, td = fixture.TargetLength, v = fixture.Config.VocabSize, vp = fixture.Config.PaddedVocabSize;
        int[] labels = fixture.ReadInt32("labels");
        Assert.Contains(-1, labels); // the loss skips ignored tails

        model.ZeroGradients();
        float loss = model.Forward(fixture.ReadInt32("input_ids"), labels, b, fixture.InputLength);
        float expectedLoss = fixture.Read("loss")[0];
        Assert.True(Math.Abs(loss - expectedLoss) <= LossTolerance * Math.Abs(expectedLoss), $"loss {loss} vs torch {expectedLoss}");
        float[] padded = model.Backend.ToHost(model.Logits);
        var logits = new float[b * td * v];
        for (int row = 0; row < b * td; row++) padded.AsSpan(row * vp, v).CopyTo(logits.AsSpan(row * v));
        ReferenceAssert.Close(output, "logits", fixture.Read("logits"), logits, LogitsTolerance);

        model.Backward();
        using var gradients = new EncoderDecoderModel(fixture.Config, model.Backend);
        gradients.Backend.CopyFromHost(gradients.Parameters, model.Backend.ToHost(model.Gradients));
        CompareWithFixture(fixture, gradients, "grad.", GradientTolerance);
    }

    [Theory]
    [InlineData("t5_relu_tied")]
    [InlineData("t5_gated_odd")]
    public void Five_AdamW_steps_with_clipping_match_pytorch(string name)
    {
        using var fixture = new T5Fixture(name);
        using var model = new EncoderDecoderModel(fixture.Config);
        ModelCheckpoint.LoadWeights(model, fixture.WriteHuggingFaceFile("param.", _directory));
        var settings = new AdamWSettings(fixture.Float("beta1"), fixture.Float("beta2"), fixture.Float("eps"), fixture.Float("weight_decay"));
        using var optimizer = model.CreateOptimizer(settings);
        int b = fixture.BatchSize, ni = b * fixture.InputLength, nt = b * fixture.TargetLength;
        int[] inputs = fixture.ReadInt32("train.input_ids"), labels = fixture.ReadInt32("train.labels");
        float[] losses = fixture.Read("train.losses"), norms = fixture.Read("train.grad_norms");
        for (int step = 0; step < fixture.Int("steps"); step++)
        {
            var result = model.TrainStep(inputs.AsSpan(step * ni, ni), labels.AsSpan(step * nt, nt), b, fixture.InputLength, optimizer,
                fixture.Float("lr"), fixture.Float("max_grad_norm"));
            Assert.True(Math.Abs(result.Loss - losses[step]) <= 1e-4 * losses[step], $"step {step + 1}: loss {result.Loss} vs torch {losses[step]}");
            double normTolerance = step == 0 ? 1e-5 : 2e-4;
            Assert.True(Math.Abs(result.GradientNorm - norms[step]) <= normTolerance * norms[step], $"step {step + 1}: gradient norm {result.GradientNorm} vs torch {norms[step]}");
        }
        CompareWithFixture(fixture, model, "param_after.", TrainedParameterTolerance, absolute: true);
    }

    [Theory]
    [InlineData("t5_relu_tied")]
    [InlineData("t5_gated_odd")]
    public void Relative_position_buckets_and_decoder_inputs_match_transformers(string name)
    {
        using var fixture = new T5Fixture(name);
        var config = fixture.Config;
        void Compare(string table, int buckets, int maxDistance, int span)
        {
            int[] bidirectional = fixture.ReadInt32(table + ".bidirectional"), causal = fixture.ReadInt32(table + ".causal");
            Assert.Equal(2 * span + 1, bidirectional.Length);
            for (int rel = -span; rel <= span; rel++)
            {
                Assert.True(bidirectional[rel + span] == RelativePositionBias.Bucket(rel, true, buckets, maxDistance), $"{table} bidirectional, relative position {rel}");
                Assert.True(causal[rel + span] == RelativePositionBias.Bucket(rel, false, buckets, maxDistance), $"{table} causal, relative position {rel}");
            }
        }
        Compare("buckets", config.RelativeAttentionBuckets, config.RelativeAttentionMaxDistance, 300);
        Compare("buckets32", 32, 128, 1000); // T5's defaults

        int[] labels = fixture.ReadInt32("labels");
        var decoderInputs = new int[labels.Length];
        EncoderDecoderModel.ShiftRight(labels, decoderInputs, fixture.TargetLength, config.DecoderStartToken);
        Assert.Equal(fixture.ReadInt32("decoder_input_ids"), decoderInputs);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Save_then_load_reproduces_the_logits_in_hugging_face_layout(bool gated)
    {
        var config = gated ? TinyGated : TinyTied;
        var random = new Random(20230828);
        using var model = new EncoderDecoderModel(config);
        model.InitializeWeights(seed: 3);
        ModelGradientCheck.RandomizeWeights(model, random);
        int[] inputs = RandomIds(random, config, 2 * 9), targets = RandomIds(random, config, 2 * 5);
        float loss = model.Forward(inputs, targets, 2, 9);

        string directory = Path.Combine(_directory, "step-1");
        ModelCheckpoint.Save(model, directory);
        using var restored = ModelCheckpoint.LoadEncoderDecoder(directory);
        Assert.Equal(model.Config, restored.Config);
        Assert.Equal(model.Parameters.ToArray(), restored.Parameters.ToArray());
        Assert.Equal(loss, restored.Forward(inputs, targets, 2, 9));

        using var file = SafeTensorsFile.Open(Path.Combine(directory, ModelCheckpoint.WeightsFileName));
        int inner = config.HeadCount * config.HeadSize;
        Assert.Equal([inner, config.Width], file.Tensors["encoder.block.0.layer.0.SelfAttention.k.weight"].Shape);
        Assert.Equal([inner, config.Width], file.Tensors["decoder.block.1.layer.1.EncDecAttention.v.weight"].Shape);
        Assert.Equal([config.RelativeAttentionBuckets, config.HeadCount], file.Tensors["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].Shape);
        Assert.Equal([config.VocabSize, config.Width], file.Tensors["shared.weight"].Shape); // the real vocabulary, not the padded rows
        Assert.Equal(!config.TiedEmbeddings, file.Tensors.ContainsKey("lm_head.weight"));
        Assert.Equal(gated, file.Tensors.ContainsKey("decoder.block.0.layer.2.DenseReluDense.wi_1.weight"));
        Assert.DoesNotContain(file.Tensors.Keys, n => n.Contains(".qkv", StringComparison.Ordinal) || n.Contains(".kv.", StringComparison.Ordinal)
            || n.Contains("block.1.layer.0.SelfAttention.relative_attention_bias", StringComparison.Ordinal));
        string json = File.ReadAllText(Path.Combine(directory, ModelCheckpoint.ConfigFileName));
        Assert.Contains("\"model_type\": \"t5\"", json);
        Assert.Contains("\"T5ForConditionalGeneration\"", json);
        Assert.Contains(gated ? "\"feed_forward_proj\": \"gated-gelu\"" : "\"feed_forward_proj\": \"relu\"", json);
        Assert.Contains($"\"d_kv\": {config.HeadSize}", json);
        Assert.Contains("\"is_encoder_decoder\": true", json);

        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(directory));
        Assert.Contains("encoder-decoder", error.Message);
    }

    // The gated (smooth) model: ReLU's kink, and the tied embedding's three uses (encoder, decoder, head), bend the loss
    // too much within a float32-sized finite-difference step; those paths are checked against PyTorch's gradients above.
    [Fact]
    public void Backward_matches_finite_differences()
    {
        var config = TinyGated;
        var random = new Random(20230829);
        using var model = new EncoderDecoderModel(config);
        model.InitializeWeights(seed: 11);
        ModelGradientCheck.RandomizeWeights(model, random);
        int b = 2, te = 11, td = 5; // te > the max distance: the log buckets are trained too
        int[] inputs = RandomIds(random, config, b * te), targets = RandomIds(random, config, b * td);
        targets[^1] = -1;

        model.ZeroGradients();
        model.Forward(inputs, targets, b, te);
        model.Backward();
        float[] gradients = model.Gradients.ToArray();
        ModelGradientCheck.Check("t5 gated", model, gradients, () => model.Forward(inputs, targets, b, te), random, output);
    }

    [Fact]
    public void Training_step_allocates_nothing_after_the_first()
    {
        var random = new Random(20230828);
        using var model = new EncoderDecoderModel(TinyGated);
        model.InitializeWeights(seed: 1);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        int[] inputs = RandomIds(random, TinyGated, 2 * 10), targets = RandomIds(random, TinyGated, 2 * 4);
        model.TrainStep(inputs, targets, 2, 10, optimizer, 1e-3f, 1f);
        model.TrainStep(inputs, targets, 2, 10, optimizer, 1e-3f, 1f);

        long before = GC.GetAllocatedBytesForCurrentThread();
        float loss = 0;
        for (int i = 0; i < 3; i++) loss = model.TrainStep(inputs, targets, 2, 10, optimizer, 1e-3f, 1f).Loss;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(float.IsFinite(loss));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoding_with_the_cache_gives_the_teacher_forced_logits(bool gated)
    {
        var config = gated ? TinyGated : TinyTied;
        var random = new Random(7);
        using var model = new EncoderDecoderModel(config);
        model.InitializeWeights(seed: 5);
        ModelGradientCheck.RandomizeWeights(model, random);
        int te = 12, td = 11, v = config.VocabSize, vp = config.PaddedVocabSize; // td > the max distance
        int[] lengths = [12, 7]; // the second input is padded: its padding must not change anything
        int[] inputs = RandomIds(random, config, 2 * te), targets = RandomIds(random, config, 2 * td);

        // each input alone, unpadded, teacher-forced
        var expected = new float[2][];
        for (int row = 0; row < 2; row++)
        {
            model.Forward(inputs.AsSpan(row * te, lengths[row]), targets.AsSpan(row * td, td), 1, lengths[row]);
            float[] padded = model.Backend.ToHost(model.Logits);
            expected[row] = new float[td * v];
            for (int t = 0; t < td; t++) padded.AsSpan(t * vp, v).CopyTo(expected[row].AsSpan(t * v));
        }

        using var inference = new EncoderDecoderModel(config, trainable: false);
        inference.Backend.CopyFromHost(inference.Parameters, model.Backend.ToHost(model.Parameters));
        using var cache = inference.CreateCache(batchSize: 2, inputLength: te, maxTargetLength: td);
        cache.Encode(inputs, lengths);
        var decoderInputs = new int[2 * td];
        EncoderDecoderModel.ShiftRight(targets, decoderInputs, td, config.DecoderStartToken);
        var logits = new float[2 * v];
        double worst = 0;
        for (int t = 0; t < td; t++)
        {
            cache.Decode([decoderInputs[t], decoderInputs[td + t]], logits);
            for (int row = 0; row < 2; row++)
            {
                for (int i = 0; i < v; i++) worst = Math.Max(worst, Math.Abs(logits[(row * v) + i] - expected[row][(t * v) + i]));
            }
        }
        output.WriteLine($"largest |cached − teacher-forced| logit difference: {worst:E2}");
        Assert.True(worst < 1e-4, $"cached decoding differs from the teacher-forced forward by {worst:E2}");
        Assert.Throws<InvalidOperationException>(() => cache.Decode([0, 0], logits)); // the cache is full
    }

    [Theory]
    [InlineData("\"feed_forward_proj\":\"gated-silu\"", "field 'feed_forward_proj' is \"gated-silu\", expected relu, gelu, gelu_new")]
    [InlineData("\"is_encoder_decoder\":false", "field 'is_encoder_decoder' is false, expected true")]
    [InlineData("\"num_heads\":0", "field 'num_heads' is 0, expected a positive integer")]
    public void A_t5_config_we_do_not_implement_is_a_one_line_error(string field, string expected)
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, "config.json");
        string json = "{\"model_type\":\"t5\",\"vocab_size\":29,\"d_model\":12,\"d_kv\":6,\"d_ff\":20,\"num_layers\":2,\"num_heads\":2," + field + "}";
        File.WriteAllText(path, json.Replace(",\"num_heads\":2,\"num_heads\":0", ",\"num_heads\":0", StringComparison.Ordinal));
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.ReadConfig(path));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_t5_config_is_not_a_single_stack_model()
    {
        var error = Assert.Throws<ArgumentException>(() => new TransformerModel(TinyTied));
        Assert.Contains("EncoderDecoderModel", error.Message);
        Assert.Throws<ArgumentException>(() => new EncoderDecoderModel(TransformerConfig.Gpt2(50, 16, 1, 2, 8)));
    }

    private static int[] RandomIds(Random random, TransformerConfig config, int count) =>
        Enumerable.Range(0, count).Select(_ => random.Next(1, config.VocabSize)).ToArray();

    // Saves the model through the T5 map and compares every file tensor with the fixture's tensor of that name.
    private void CompareWithFixture(T5Fixture fixture, EncoderDecoderModel model, string prefix, double tolerance, bool absolute = false)
    {
        string directory = Path.Combine(_directory, prefix.TrimEnd('.'));
        ModelCheckpoint.Save(model, directory);
        fixture.CompareWithSaved(output, Path.Combine(directory, ModelCheckpoint.WeightsFileName), prefix, tolerance, absolute);
    }
}

/// <summary>A PyTorch T5 fixture (tests/reference/make_t5_fixtures.py) opened for reading, its config read as config.json would be.</summary>
internal sealed class T5Fixture : ReferenceFixture
{
    public T5Fixture(string name) : base(name)
    {
        bool gated = File.Metadata["feed_forward_proj"] == "gated-gelu";
        int heads = Int("num_heads"), headSize = Int("d_kv"), width = Int("d_model");
        Config = TransformerConfig.T5(Int("vocab_size"), 64, Int("num_layers"), Int("num_decoder_layers"), heads, width, Int("d_ff"), gated,
            headSize * heads == width ? 0 : headSize, Int("decoder_start_token_id")) with
        {
            NormEpsilon = Float("layer_norm_epsilon"),
            RelativeAttentionBuckets = Int("relative_attention_num_buckets"),
            RelativeAttentionMaxDistance = Int("relative_attention_max_distance"),
            TiedEmbeddings = File.Metadata["tie_word_embeddings"] == "true",
        };
        BatchSize = Int("batch");
        InputLength = Int("encoder_length");
        TargetLength = Int("decoder_length");
    }

    public TransformerConfig Config { get; }
    public int BatchSize { get; }
    public int InputLength { get; }
    public int TargetLength { get; }
}
