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
    [InlineData("architecture=t5", "architecture = t5 is invalid; expected gpt2 or llama or bert")]
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
}
