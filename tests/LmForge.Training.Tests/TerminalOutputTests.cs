using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LmForge.Training.Tests;

/// <summary>
/// `lmforge` writes escape codes only to a terminal, and no colour there when NO_COLOR is set (https://no-color.org):
/// a tiny training run (progress bar, coloured lines) under a pseudo-terminal made by util-linux's `script`, and redirected.
/// </summary>
public partial class TerminalOutputTests
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");

    // SGR sequences that set a foreground or background colour: 30-37, 39-47, 49, 90-97, 100-107, 38;5;n / 38;2;r;g;b
    [GeneratedRegex(@"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")]
    private static partial Regex ColourCode();

    static string[] TrainArguments(string directory)
    {
        string tokenizer = Path.GetDirectoryName(LmForge.Training.Checkpoints.CheckpointTokenizer.Save(new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions
        {
            VocabSize = 257, Threads = 1, SpecialTokens = [LmForge.Tokenization.Training.BpeTrainerOptions.EndOfText],
        }).TrainOnTexts(["a"]), Path.Combine(directory, "tokenizer")))!;
        return
        [
            "train", "--tokenizer", tokenizer, "--train", Path.Combine(Fixture, "train_000000.bin"), "--val", Path.Combine(Fixture, "val_000000.bin"),
            "--out", Path.Combine(directory, "run"), "--set", "layers=1", "--set", "heads=1", "--set", "embedding-size=16", "--set", "context-length=16",
            "--set", "micro-batch-size=2", "--set", "total-batch-tokens=32", "--set", "steps=3", "--set", "eval-every=0",
            "--set", "sample-every=0", "--set", "peak-gflops=1e-9", // a peak far too low: the run warns, in yellow on a terminal
        ];
    }

    // The tool under a pseudo-terminal (stdout and stderr both the terminal): everything it wrote.
    static string OnATerminal(string[] arguments, string? noColor)
    {
        string command = string.Join(' ', new[] { "dotnet", TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll") }.Concat(arguments).Select(a => "'" + a + "'"));
        var start = new ProcessStartInfo("script", ["-qec", command, "/dev/null"]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.Environment["TERM"] = "xterm-256color";
        start.Environment.Remove("NO_COLOR");
        if (noColor is not null) start.Environment["NO_COLOR"] = noColor;
        using var process = Process.Start(start)!;
        string errors = "";
        var readErrors = new Thread(() => errors = process.StandardError.ReadToEnd());
        readErrors.Start();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "lmforge train under script did not finish");
        readErrors.Join();
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {output} {errors}");
        return output + errors;
    }

    [Fact]
    public void OnATerminal_ColoursAreWritten_UnlessNoColorIsSet()
    {
        string coloured = OnATerminal(TrainArguments(TestFiles.TemporaryDirectory("tty-colour")), noColor: null);
        Assert.Matches(ColourCode(), coloured); // the test can see colours when there are some
        // NO_COLOR set to the empty string does not count (no-color.org: "present and not an empty string")
        Assert.Matches(ColourCode(), OnATerminal(TrainArguments(TestFiles.TemporaryDirectory("tty-empty-no-colour")), noColor: ""));
        string plain = OnATerminal(TrainArguments(TestFiles.TemporaryDirectory("tty-no-colour")), noColor: "1");
        Assert.Contains("warning: step", plain, StringComparison.Ordinal);
        Assert.DoesNotMatch(ColourCode(), plain);
    }

    [Fact]
    public async Task Redirected_OutputAndErrors_HaveNoEscapeCodes_EvenWhenNoColorIsEmpty()
    {
        string directory = TestFiles.TemporaryDirectory("redirected-colour");
        var start = new ProcessStartInfo("dotnet", [TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"), .. TrainArguments(directory)])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["TERM"] = "xterm-256color";
        start.Environment["NO_COLOR"] = ""; // empty: does not ask for plain output, the redirection does
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)));
        Assert.Contains("warning: step", output, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain('\u001b', await errors);

        // an error on stderr is plain too
        var (exitCode, _, failure) = TestFiles.RunTool("train", "--resume", Path.Combine(directory, "nowhere"));
        Assert.Equal(1, exitCode);
        Assert.DoesNotContain('\u001b', failure);
    }
}
