using LmForge.Tensors.Cpu;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

/// <summary>
/// What a resume trusts and what it leaves: the weights and moments must match the hashes the checkpoint recorded, a
/// resume from an older step moves the run's newer checkpoints out of the way (all or nothing for a later --resume),
/// and a run's start sweeps what crashed saves left.
/// </summary>
public class CrashSafetyTests
{
    const int Vocabulary = 32, Context = 8, Channels = 16;

    static TrainingConfig Config(string directory, int steps)
    {
        var random = new Random(20230828);
        List<int> Stream(int n) => Enumerable.Range(0, n).Select(_ => random.Next(Vocabulary)).ToList();
        TestFiles.WriteShard(Path.Combine(directory, "train_000.bin"), Stream(3000));
        TestFiles.WriteShard(Path.Combine(directory, "val_000.bin"), Stream(600));
        return new TrainingConfig
        {
            Layers = 1, Heads = 1, EmbeddingSize = Channels, ContextLength = Context, VocabularySize = Vocabulary,
            TrainShards = Path.Combine(directory, "train_*.bin"), ValidationShards = Path.Combine(directory, "val_*.bin"),
            MicroBatchSize = 4, TotalBatchTokens = 4 * Context, LearningRate = 1e-2f, WarmupSteps = 1, Steps = steps, Seed = 7,
            EvalEvery = 0, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 2, KeepCheckpoints = 10,
        };
    }

    static string Train(string directory, TrainingConfig config)
    {
        string run = Path.Combine(directory, "run");
        using var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, run);
        trainer.Run();
        return run;
    }

    [Theory]
    [InlineData("model.safetensors", "weightsSha256")]
    [InlineData(TrainerState.OptimizerFile, "optimizerSha256")]
    public void Resume_FromAChangedWeightOrMoment_IsAOneLineErrorNamingTheFile(string file, string field)
    {
        string directory = TestFiles.TemporaryDirectory("crashsafe-hash");
        var config = Config(directory, steps: 2);
        string run = Train(directory, config);
        string checkpoint = CheckpointDirectory.FindLatest(run)!;
        string damaged = Path.Combine(checkpoint, file);
        byte[] bytes = File.ReadAllBytes(damaged);
        bytes[^3] ^= 0x10; // one bit of the last value: still a valid file holding a plausible float
        File.WriteAllBytes(damaged, bytes);

        using var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1);
        var error = Assert.Throws<InvalidDataException>(() => Trainer.Resume(config with { Steps = 4 }, model, CpuBackend.Shared, run, checkpoint));
        Assert.StartsWith($"{damaged}: damaged or changed since it was saved (SHA-256 ", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{Path.Combine(checkpoint, TrainerState.StateFile)} records {field} ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);

        bytes[^3] ^= 0x10;
        File.WriteAllBytes(damaged, bytes);
        using var trainer = Trainer.Resume(config with { Steps = 4 }, model, CpuBackend.Shared, run, checkpoint);
        Assert.Equal(4, trainer.Run().Step);
    }

    [Fact]
    public void Resume_FromAnOlderStep_MovesTheNewerCheckpointsToAbandoned_SoTheNextResumeFollowsTheNewBranch()
    {
        string directory = TestFiles.TemporaryDirectory("crashsafe-branch");
        var config = Config(directory, steps: 6);
        string run = Train(directory, config);
        Assert.Equal([2, 4, 6], CheckpointDirectory.List(run).Select(c => c.Step));

        // resume from step 2 and stop (as Ctrl+C or a kill after its checkpoint would) at step 3, before step 4 is saved again
        using (var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var trainer = Trainer.Resume(config, model, CpuBackend.Shared, run, Path.Combine(run, "step-000002")))
        {
            Assert.Equal([Path.Combine(run, "abandoned", "step-000004"), Path.Combine(run, "abandoned", "step-000006")], trainer.AbandonedCheckpoints);
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(3, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        Assert.Equal([2, 3], CheckpointDirectory.List(run).Select(c => c.Step));
        Assert.Equal(Path.Combine(run, "step-000003"), CheckpointDirectory.Resolve(run, TrainerState.IsCheckpoint));
        Assert.True(TrainerState.IsCheckpoint(Path.Combine(run, "abandoned", "step-000006"))); // kept whole, for a user who wants it back
        Assert.Equal([0, 1, 2], MetricsLog.Read(Path.Combine(run, Trainer.MetricsFile)).Select(r => r.Step));
    }

    [Fact]
    public void AnAbandonmentCutShortByAKill_HidesTheNewerCheckpoints_AndTheNextStartFinishesIt()
    {
        string directory = TestFiles.TemporaryDirectory("crashsafe-journal");
        var config = Config(directory, steps: 6);
        string run = Train(directory, config);
        // the state a kill leaves after the journal was written and step 4 moved, before step 6 was
        Directory.CreateDirectory(Path.Combine(run, "abandoned"));
        Directory.Move(Path.Combine(run, "step-000004"), Path.Combine(run, "abandoned", "step-000004"));
        File.WriteAllText(Path.Combine(run, ".abandon-after"), "2\n");

        Assert.Equal([2], CheckpointDirectory.List(run).Select(c => c.Step));
        Assert.Equal(Path.Combine(run, "step-000002"), CheckpointDirectory.Resolve(run, TrainerState.IsCheckpoint));
        CheckpointDirectory.Sweep(run);
        Assert.False(File.Exists(Path.Combine(run, ".abandon-after")));
        Assert.True(Directory.Exists(Path.Combine(run, "abandoned", "step-000006")));
        Assert.Equal([2], CheckpointDirectory.List(run).Select(c => c.Step));
    }

    [Fact]
    public void ARunStart_SweepsWhatCrashedSavesLeft()
    {
        string directory = TestFiles.TemporaryDirectory("crashsafe-sweep");
        var config = Config(directory, steps: 4);
        string run = Train(directory, config);
        // a save killed midway, a prune killed midway, a replacement killed after its new copy was in place
        Directory.CreateDirectory(Path.Combine(run, ".incomplete-step-000006"));
        Directory.CreateDirectory(Path.Combine(run, ".removing-step-000000"));
        File.WriteAllText(Path.Combine(run, ".removing-step-000000", "model.safetensors"), "");
        Directory.CreateDirectory(Path.Combine(run, ".replaced-step-000004"));

        using (var model = new TinyLanguageModel(Vocabulary, Context, Channels, seed: 1))
        using (var trainer = Trainer.Resume(config, model, CpuBackend.Shared, run, Path.Combine(run, "step-000004")))
        {
            // nothing to train and nothing saved: only the start touches the checkpoints
            Assert.Equal(4, trainer.Run(new CancellationToken(canceled: true)).Step);
        }
        Assert.Equal(["loss.svg", "metrics.jsonl", "step-000002", "step-000004"], Directory.GetFileSystemEntries(run).Select(e => Path.GetFileName(e)!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ACheckpointMovedAsideByACrashedReplacement_IsBackBeforeAResumeLooksForTheNewest()
    {
        string directory = TestFiles.TemporaryDirectory("crashsafe-replaced");
        var config = Config(directory, steps: 4);
        string run = Train(directory, config);
        Directory.Move(Path.Combine(run, "step-000004"), Path.Combine(run, ".replaced-step-000004"));
        CheckpointDirectory.Sweep(run);
        Assert.Equal(Path.Combine(run, "step-000004"), CheckpointDirectory.Resolve(run, TrainerState.IsCheckpoint));
    }
}
