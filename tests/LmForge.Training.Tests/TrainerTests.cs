using LmForge.Tensors.Cpu;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

public class TrainerTests
{
    const int Vocabulary = 32, Context = 8, Channels = 16;

    // A learnable stream: token i+1 follows token i (mod 32) most of the time, with seeded noise.
    static (string Train, string Validation) WriteShards(string directory)
    {
        var random = new Random(20230828);
        List<int> Stream(int n)
        {
            var tokens = new List<int> { 0 };
            while (tokens.Count < n) tokens.Add(random.NextDouble() < 0.9 ? (tokens[^1] + 1) % Vocabulary : random.Next(Vocabulary));
            return tokens;
        }
        TestFiles.WriteShard(Path.Combine(directory, "train_000.bin"), Stream(3000));
        TestFiles.WriteShard(Path.Combine(directory, "train_001.bin"), Stream(2000), wide: true);
        TestFiles.WriteShard(Path.Combine(directory, "val_000.bin"), Stream(600));
        return (Path.Combine(directory, "train_*.bin"), Path.Combine(directory, "val_*.bin"));
    }

    static TrainingConfig Config(string directory, int steps)
    {
        var (train, validation) = WriteShards(directory);
        return new TrainingConfig
        {
            Layers = 1, Heads = 1, EmbeddingSize = Channels, ContextLength = Context, VocabularySize = Vocabulary,
            TrainShards = train, ValidationShards = validation, MicroBatchSize = 4, TotalBatchTokens = 4 * Context * 2,
            LearningRate = 1e-2f, MinLearningRate = 1e-3f, WarmupSteps = 3, Steps = steps, Seed = 20230828,
            EvalEvery = 5, EvalBatches = 4, SampleEvery = 0, CheckpointEvery = 0, KeepCheckpoints = 3,
        };
    }

    [Fact]
    public void Training_LowersTheValidationLoss_AndWritesMetricsCurveAndCheckpoint()
    {
        string directory = TestFiles.TemporaryDirectory("trainer");
        var config = Config(directory, steps: 40);
        using var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"));
        float initial = trainer.ValidationLoss();
        var result = trainer.Run();
        Assert.InRange(initial, 3.2f, 3.7f); // near ln(32) = 3.47 at initialization
        Assert.True(result.LastValidationLoss < 1.5f, $"validation loss {result.LastValidationLoss} did not fall from {initial}");
        var records = MetricsLog.Read(Path.Combine(directory, "run", Trainer.MetricsFile));
        Assert.Equal(41, records.Count); // 40 steps and the final validation
        Assert.Equal(9, records.Count(r => r.ValidationLoss is not null)); // steps 0, 5, ..., 35 and the end
        Assert.Equal(config.LearningRateSchedule.At(17), records[17].LearningRate);
        Assert.True(File.Exists(Path.Combine(directory, "run", Trainer.LossCurveFile)));
        Assert.Equal(Path.Combine(directory, "run", "step-000040"), result.CheckpointDirectory);
        Assert.True(TrainerState.IsCheckpoint(result.CheckpointDirectory));
    }

    [Fact]
    public void ResumedRun_MatchesAnUninterruptedRun_BitForBit()
    {
        const int steps = 12;
        string directory = TestFiles.TemporaryDirectory("trainer-resume");
        var config = Config(directory, steps);

        using var straightModel = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        using (var straight = Trainer.Start(config, straightModel, CpuBackend.Shared, Path.Combine(directory, "straight")))
        {
            straight.Run();
        }
        var straightRecords = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));

        // First half, interrupted by a checkpoint at step 6 (as Ctrl+C would), then a fresh process resumes.
        string run = Path.Combine(directory, "resumed");
        using (var firstModel = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var first = Trainer.Start(config with { Steps = steps }, firstModel, CpuBackend.Shared, run))
        {
            using var stopAtHalf = new CancellationTokenSource();
            first.Listener = new StopAt(steps / 2, stopAtHalf);
            var half = first.Run(stopAtHalf.Token);
            Assert.True(half.Interrupted);
            Assert.Equal(steps / 2, half.Step);
        }
        using var resumedModel = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 99); // different init: must be overwritten
        using (var resumed = Trainer.Resume(config, resumedModel, CpuBackend.Shared, run, CheckpointDirectory.Resolve(run, TrainerState.IsCheckpoint)))
        {
            resumed.Run();
        }
        var resumedRecords = MetricsLog.Read(Path.Combine(run, Trainer.MetricsFile));
        Assert.Equal(straightRecords.Count, resumedRecords.Count);
        for (int i = 0; i < straightRecords.Count; i++)
        {
            Assert.Equal(straightRecords[i].Step, resumedRecords[i].Step);
            Assert.Equal(Bits(straightRecords[i].TrainLoss), Bits(resumedRecords[i].TrainLoss));
            Assert.Equal(Bits(straightRecords[i].ValidationLoss), Bits(resumedRecords[i].ValidationLoss));
            Assert.Equal(Bits(straightRecords[i].GradientNorm), Bits(resumedRecords[i].GradientNorm));
        }
        Assert.True(straightModel.Parameters.AsSpan().SequenceEqual(resumedModel.Parameters.AsSpan()));
    }

    static int? Bits(float? value) => value is { } v ? BitConverter.SingleToInt32Bits(v) : null;

    sealed class StopAt(int step, CancellationTokenSource source) : ITrainingListener
    {
        public void OnStep(MetricsRecord record, int totalSteps, TimeSpan remaining)
        {
            if (record.Step + 1 == step) source.Cancel();
        }
    }

    [Fact]
    public void Resume_WithADifferentModelShape_IsAClearError()
    {
        string directory = TestFiles.TemporaryDirectory("trainer-incompatible");
        var config = Config(directory, steps: 2);
        string run = Path.Combine(directory, "run");
        using (var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.Run();
        }
        using var other = new TinyLanguageModel(Vocabulary, Context, 32, seed: 1);
        string checkpoint = CheckpointDirectory.FindLatest(run)!;
        var error = Assert.Throws<TrainingConfigException>(() => Trainer.Resume(config with { EmbeddingSize = 32 }, other, CpuBackend.Shared, run, checkpoint));
        Assert.Equal($"{checkpoint}: cannot resume with this config: embeddingSize 16 (checkpoint) vs 32 (now); resume with the checkpoint's training_config.json or start a new run", error.Message);
    }

    [Fact]
    public void UnwritableOutputDirectory_IsAOneLineError()
    {
        string directory = TestFiles.TemporaryDirectory("trainer-unwritable");
        var config = Config(directory, steps: 2);
        string blocker = Path.Combine(directory, "file");
        File.WriteAllText(blocker, "");
        using var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        var error = Assert.Throws<IOException>(() => Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(blocker, "run")));
        Assert.StartsWith($"{Path.Combine(blocker, "run")}: the output directory is not writable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FreshStart_InARunDirectoryWithCheckpoints_IsRefused()
    {
        string directory = TestFiles.TemporaryDirectory("trainer-second-start");
        var config = Config(directory, steps: 2);
        string run = Path.Combine(directory, "run");
        using (var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.Run();
        }
        using var second = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 2);
        var error = Assert.Throws<IOException>(() => Trainer.Start(config, second, CpuBackend.Shared, run));
        Assert.Equal($"{run} already holds checkpoints of a run; pass --resume {run} to continue it or choose another --out", error.Message);
        Assert.Equal(3, MetricsLog.Read(Path.Combine(run, Trainer.MetricsFile)).Count); // the first run's metrics are untouched
    }

    [Fact]
    public void Resume_WithDifferentTrainingShards_NamesWhatDiffers()
    {
        string directory = TestFiles.TemporaryDirectory("trainer-other-data");
        var config = Config(directory, steps: 2);
        string run = Path.Combine(directory, "run");
        using (var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.Run();
        }
        string checkpoint = CheckpointDirectory.FindLatest(run)!;
        using var resumed = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);

        TestFiles.WriteShard(Path.Combine(directory, "train_001.bin"), Enumerable.Range(0, 1500).Select(i => i % Vocabulary).ToList());
        var changed = Assert.Throws<InvalidDataException>(() => Trainer.Resume(config with { Steps = 4 }, resumed, CpuBackend.Shared, run, checkpoint));
        Assert.Equal($"{checkpoint}: the training data differs from the checkpoint's: training shard 2 is train_001.bin (1500 tokens), was train_001.bin (2000 tokens); resume with the same shards (an exact resume depends on them) or start a new run", changed.Message);

        TestFiles.WriteShard(Path.Combine(directory, "train_001.bin"), Enumerable.Range(0, 2000).Select(i => i % Vocabulary).ToList());
        TestFiles.WriteShard(Path.Combine(directory, "train_002.bin"), Enumerable.Range(0, 500).Select(i => i % Vocabulary).ToList());
        var added = Assert.Throws<InvalidDataException>(() => Trainer.Resume(config with { Steps = 4 }, resumed, CpuBackend.Shared, run, checkpoint));
        Assert.Contains("the training data differs from the checkpoint's: 3 training shards, was 2;", added.Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(directory, "train_002.bin"));
        using (var trainer = Trainer.Resume(config with { Steps = 4 }, resumed, CpuBackend.Shared, run, checkpoint))
            Assert.Equal(4, trainer.Run().Step); // same names and token counts: resumes
    }

    [Fact]
    public void ADivergingRun_StopsWithNonFiniteLossException_CountingStepsFromOne()
    {
        string directory = TestFiles.TemporaryDirectory("trainer-diverge");
        var config = Config(directory, steps: 20) with { LearningRate = 1e30f, MinLearningRate = 1e30f, WarmupSteps = 0, GradientClip = 0, WeightDecay = 0 };
        using var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"));
        var steps = new List<int>();
        trainer.Listener = new StepRecorder(steps);
        var error = Assert.Throws<LmForge.Models.Transformer.NonFiniteLossException>(() => trainer.Run());
        Assert.Equal(steps.Count + 1, error.Step); // the step after the last one displayed (record.Step + 1)
        Assert.Contains(error.Quantity, new[] { "loss", "gradient norm" });
        Assert.False(float.IsFinite(error.Value));
        Assert.Equal($"step {error.Step}: {error.Quantity} is {error.Value}; stopping before the update (lower the learning rate or check the data)", error.Message);
    }

    sealed class StepRecorder(List<int> steps) : ITrainingListener
    {
        public void OnStep(MetricsRecord record, int totalSteps, TimeSpan remaining) => steps.Add(record.Step);
    }
}
