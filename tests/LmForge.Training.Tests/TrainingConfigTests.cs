namespace LmForge.Training.Tests;

public class TrainingConfigTests
{
    [Fact]
    public void Json_RoundTrips_AndLeftOutFieldsKeepDefaults()
    {
        var config = TrainingConfig.Parse("""{"layers": 2, "schedule": "warmupStableDecay", "learningRate": 0.003}""", "test.json");
        Assert.Equal(2, config.Layers);
        Assert.Equal(ScheduleKind.WarmupStableDecay, config.Schedule);
        Assert.Equal(0.003f, config.LearningRate);
        Assert.Equal(new TrainingConfig().Heads, config.Heads);
        Assert.Equal(config, TrainingConfig.Parse(config.ToJson(), "round trip"));
        Assert.DoesNotContain("learningRateSchedule", config.ToJson(), StringComparison.Ordinal); // derived, not a setting
    }

    [Fact]
    public void Overrides_AcceptKebabAndCamelCaseNames()
    {
        var config = new TrainingConfig().WithOverrides(["learning-rate=3e-4", "steps=50", "schedule=warmupStableDecay", "trainShards=a/*.bin", "shuffle-training-data=false"]);
        Assert.False(config.ShuffleTrainingData);
        Assert.Equal(3e-4f, config.LearningRate);
        Assert.Equal(50, config.Steps);
        Assert.Equal(ScheduleKind.WarmupStableDecay, config.Schedule);
        Assert.Equal("a/*.bin", config.TrainShards);
    }

    [Theory]
    [InlineData("layerz=3", "unknown setting 'layerz'")]
    [InlineData("steps", "expected name=value")]
    [InlineData("steps=many", "'many' is not a number")]
    [InlineData("steps=2.5", "steps")]
    [InlineData("heads=3", "embeddingSize = 128 is invalid; expected a positive multiple of heads (3)")]
    [InlineData("architecture=bert", "objective = causal is invalid; expected masked for bert")]
    [InlineData("objective=masked", "objective = masked is invalid; expected causal for gpt2")]
    [InlineData("architecture=t5", "objective = causal is invalid; expected span for t5")]
    [InlineData("objective=span", "objective = span is invalid; expected causal for gpt2")]
    [InlineData("architecture=t6", "architecture = t6 is invalid; expected gpt2 or llama or bert or t5")]
    [InlineData("noiseDensity=0", "noiseDensity = 0 is invalid; expected in (0, 1)")]
    [InlineData("noiseDensity=1", "noiseDensity = 1 is invalid; expected in (0, 1)")]
    [InlineData("meanSpanLength=0.5", "meanSpanLength = 0.5 is invalid; expected a number at least 1")]
    [InlineData("totalBatchTokens=1000", "totalBatchTokens = 1000 is invalid; expected a positive multiple of microBatchSize x contextLength = 1024")]
    [InlineData("minLearningRate=1", "minLearningRate")]
    [InlineData("schedule=linear", "schedule")]
    [InlineData("shuffleTrainingData=maybe", "'maybe' is not true or false")]
    public void BadOverride_IsAOneLineErrorNamingTheSetting(string assignment, string expected)
    {
        var error = Assert.Throws<TrainingConfigException>(() => new TrainingConfig().WithOverrides([assignment]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Load_MissingFileAndUnknownField_NameTheFile()
    {
        string missing = Path.Combine(Path.GetTempPath(), "lmforge-no-such-config.json");
        Assert.StartsWith(missing, Assert.Throws<TrainingConfigException>(() => TrainingConfig.Load(missing)).Message, StringComparison.Ordinal);
        var error = Assert.Throws<TrainingConfigException>(() => TrainingConfig.Parse("""{"layers": 2, "colour": "red"}""", "run.json"));
        Assert.StartsWith("run.json: invalid training config", error.Message, StringComparison.Ordinal);
        Assert.Contains("colour", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GradientAccumulation_MakesUpTheTotalBatch()
    {
        var config = new TrainingConfig { MicroBatchSize = 4, ContextLength = 64, TotalBatchTokens = 4 * 64 * 3 };
        Assert.Equal(3, config.GradientAccumulationSteps);
    }

    [Fact]
    public void Incompatibility_NamesEveryDifferingShapeSetting_AndIgnoresRunLength()
    {
        var saved = new TrainingConfig();
        Assert.Null(saved.WithOverrides(["steps=5000", "evalEvery=7"]).IncompatibilityWith(saved));
        string? reason = saved.WithOverrides(["layers=6", "seed=1"]).IncompatibilityWith(saved);
        Assert.Equal("layers 4 (checkpoint) vs 6 (now); seed 1337 (checkpoint) vs 1 (now)", reason);
    }

    [Fact]
    public void A_t5_trains_on_spans_and_a_bert_or_decoder_does_not()
    {
        var t5 = new TrainingConfig().WithOverrides(["architecture=t5", "objective=span", "noise-density=0.3", "mean-span-length=2"]);
        Assert.Equal((0.3, 2.0), (t5.NoiseDensity, t5.MeanSpanLength));
        Assert.Equal(t5, TrainingConfig.Parse(t5.ToJson(), "round trip"));
        var error = Assert.Throws<TrainingConfigException>(() => new TrainingConfig().WithOverrides(["architecture=bert", "objective=span"]));
        Assert.Contains("objective = span is invalid; expected masked for bert", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<TrainingConfigException>(() => t5.WithOverrides(["objective=masked"]));
        Assert.Contains("objective = masked is invalid; expected span for t5", error.Message, StringComparison.Ordinal);
        Assert.Equal("noiseDensity 0.3 (checkpoint) vs 0.15 (now); meanSpanLength 2 (checkpoint) vs 3 (now)",
            t5.WithOverrides(["noiseDensity=0.15", "meanSpanLength=3"]).IncompatibilityWith(t5));
    }

    [Fact]
    public void A_t5_model_config_has_as_many_decoder_layers_and_starts_from_the_given_token()
    {
        var config = new TrainingConfig { Architecture = "t5", Objective = TrainingObjectives.Span, Layers = 3, Heads = 2, EmbeddingSize = 64, VocabularySize = 500 };
        var model = config.ToModelConfig(decoderStartToken: 7);
        Assert.Equal(LmForge.Models.Transformer.TransformerConfig.T5(500, config.ContextLength, layerCount: 3, decoderLayerCount: 3, headCount: 2, width: 64,
            intermediateSize: 256, gated: false, decoderStartToken: 7), model);
        Assert.Equal(100, (config with { IntermediateSize = 100 }).ToModelConfig(7).IntermediateSize);
        var error = Assert.Throws<TrainingConfigException>(() => config.ToModelConfig());
        Assert.Contains("decoder start token", error.Message, StringComparison.Ordinal);
        Assert.Equal(new TrainingConfig().ToModelConfig(), new TrainingConfig().ToModelConfig(decoderStartToken: 7)); // only t5 has a decoder
    }
}
