using System.Diagnostics;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.Tests;

/// <summary>
/// `lmforge train` stopped by SIGTERM (what Slurm, docker and systemd send) or SIGINT (Ctrl+C): the step finishes, a
/// checkpoint is saved, the command exits 130 saying how to continue, and `--resume` finishes the run.
/// </summary>
public class InterruptTests
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_saves_a_checkpoint_and_exits_130_and_the_run_resumes(string signal)
    {
        string directory = TestFiles.TemporaryDirectory("interrupt-" + signal.ToLowerInvariant());
        string run = Path.Combine(directory, "run");
        // the fixture shards use ids below 64: a byte-level tokenizer (256 bytes and <|endoftext|>) covers them
        string tokenizerDirectory = CheckpointTokenizer.Save(new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions
        {
            VocabSize = 257, Threads = 1, SpecialTokens = [LmForge.Tokenization.Training.BpeTrainerOptions.EndOfText],
        }).TrainOnTexts(["a"]), directory);
        string[] arguments =
        [
            "train", "--tokenizer", tokenizerDirectory, "--train", Path.Combine(Fixture, "train_000000.bin"), "--val", Path.Combine(Fixture, "val_000000.bin"),
            "--out", run, "--set", "layers=1", "--set", "heads=1", "--set", "embedding-size=16", "--set", "context-length=16",
            "--set", "micro-batch-size=2", "--set", "total-batch-tokens=32", "--set", "steps=100000", "--set", "eval-every=0",
            "--set", "sample-every=0", "--set", "checkpoint-every=0", "--set", "peak-gflops=100",
        ];
        var start = new ProcessStartInfo("dotnet", [TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"), .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = new Process { StartInfo = start };
        var output = new System.Text.StringBuilder();
        var errors = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Text(System.Text.StringBuilder text) { lock (text) return text.ToString(); }
        var clock = Stopwatch.StartNew();
        // training has started (the line before the first step), then a moment of steps
        while (!Text(output).Contains("MFU over the peak", StringComparison.Ordinal))
        {
            Assert.False(process.HasExited, $"lmforge train ended before the signal: {Text(errors)}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "training did not start in 2 minutes");
            await Task.Delay(50);
        }
        await Task.Delay(1500);
        int killExit;
        using (var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            kill.WaitForExit();
            killExit = kill.ExitCode;
        }
        string sent = $"kill -{signal} {process.Id} exited {killExit} at {clock.Elapsed.TotalSeconds:F1} s";
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "lmforge train did not stop after the signal");
        process.WaitForExit(); // and its output is read to the end

        Assert.True(process.ExitCode == 130, $"{sent}; exit {process.ExitCode}: {Text(errors)}");
        string checkpoint = CheckpointDirectory.FindLatest(run)!;
        Assert.NotNull(checkpoint);
        int step = StepOf(checkpoint);
        Assert.True(step >= 3, $"the checkpoint holds step {step}");
        Assert.Contains($"interrupted at step {step} of 100000: checkpoint {checkpoint} saved; continue with lmforge train --resume {run}", Text(errors));
        Assert.Contains(signal == "TERM" ? "SIGTERM: finishing this step" : "Ctrl+C: finishing this step", Text(output));

        var (exitCode, _, resumeErrors) = TestFiles.RunTool("train", "--resume", run, "--set", $"steps={step + 2}");
        Assert.True(exitCode == 0, resumeErrors);
        Assert.Equal(step + 2, StepOf(CheckpointDirectory.FindLatest(run)!));
    }

    // step-000123 holds step 123
    static int StepOf(string checkpoint) => int.Parse(Path.GetFileName(checkpoint)["step-".Length..], System.Globalization.CultureInfo.InvariantCulture);
}
