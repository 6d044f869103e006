using LmForge.Testing;
using Xunit.Abstractions;

namespace LmForge.Training.Tests;

/// <summary>
/// The real `lmforge train` killed with SIGKILL (in a step, in a validation, in a checkpoint write) and stopped with
/// SIGINT, resumed after each, ends byte for byte where an uninterrupted run ends (tests/Shared/CrashTraining.cs has
/// the checks; `bench crash-train --kills N` runs it at length).
/// </summary>
public class CrashTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void Train_KilledAndInterruptedAtChosenMoments_ResumesToTheUninterruptedRunsBytes()
    {
        var log = new StringWriter();
        var result = CrashTraining.Run(new CrashTrainingOptions
        {
            Program = TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"),
            WorkDirectory = TestFiles.TemporaryDirectory("crash-train"),
            Kills = 3, Interrupts = 2, Seed = 20261201, Steps = 120, Log = log,
        });
        output.WriteLine(log.ToString());
        Assert.True(result.Passed, string.Join("\n", result.Failures) + "\n" + log);
        Assert.True(result.Kills == 3 && result.Interrupts == 2, $"the run finished before every signal was sent:\n{log}");
        Assert.True(result.KillsInCheckpointWrite >= 1, $"no kill landed in a checkpoint write:\n{log}");
    }

    [Fact]
    public void Train_ResumeFromAFlippedWeightByte_FailsWithOneLineNamingTheFile_ThenResumesFromTheOlderCheckpoint()
    {
        string directory = TestFiles.TemporaryDirectory("crash-train-tampered");
        string run = Path.Combine(directory, "run");
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");
        string tokenizer = Path.GetDirectoryName(LmForge.Training.Checkpoints.CheckpointTokenizer.Save(new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions
        {
            VocabSize = 257, Threads = 1, SpecialTokens = [LmForge.Tokenization.Training.BpeTrainerOptions.EndOfText],
        }).TrainOnTexts(["a"]), Path.Combine(directory, "tokenizer")))!;
        var (exitCode, _, errors) = TestFiles.RunTool("train", "--tokenizer", tokenizer, "--train", Path.Combine(fixture, "train_000000.bin"),
            "--val", Path.Combine(fixture, "val_000000.bin"), "--out", run, "--set", "layers=1", "--set", "heads=1", "--set", "embedding-size=16",
            "--set", "context-length=16", "--set", "micro-batch-size=2", "--set", "total-batch-tokens=32", "--set", "steps=4",
            "--set", "checkpoint-every=2", "--set", "eval-every=0", "--set", "sample-every=0", "--set", "peak-gflops=100");
        Assert.True(exitCode == 0, errors);
        string weights = Path.Combine(run, "step-000004", "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^2] ^= 0x01; // one bit of the last weight
        File.WriteAllBytes(weights, bytes);

        (exitCode, _, errors) = TestFiles.RunTool("train", "--resume", run, "--set", "steps=6");
        Assert.Equal(1, exitCode);
        Assert.StartsWith($"error: {weights}: damaged or changed since it was saved (SHA-256 ", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd('\n').Split('\n'));

        // the step before is whole: resuming it sets the damaged step aside and finishes the run
        (exitCode, string output, errors) = TestFiles.RunTool("train", "--resume", Path.Combine(run, "step-000002"), "--set", "steps=6");
        Assert.True(exitCode == 0, errors);
        // (Spectre wraps long lines at the width it assumes for redirected output)
        Assert.Contains("resuming from step 2: the run's newer checkpoints (step-000004) belong to the abandoned branch and were moved to",
            System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " "), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, "abandoned", "step-000004", "model.safetensors")));
        Assert.Equal(Path.Combine(run, "step-000006"), LmForge.Training.Checkpoints.CheckpointDirectory.FindLatest(run));
    }
}
