using System.Diagnostics;
using LmForge.Tokenization.Saving;

namespace LmForge.Tokenization.Tests.Saving;

public sealed class AtomicFileTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-atomic-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    static int ExitedProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true"))!;
        process.WaitForExit();
        return process.Id;
    }

    // What stands in the way of an output is named: a file where a directory should be, a directory that cannot be made.
    [Fact]
    public void Write_WhereADirectoryCannotBe_SaysWhy()
    {
        string blocker = Path.Combine(directory, "not-a-directory");
        File.WriteAllText(blocker, "x");
        string target = Path.Combine(blocker, "sub", "tokenizer.json");
        var error = Assert.Throws<IOException>(() => AtomicFile.WriteText(target, "{}"));
        Assert.Equal($"{target}: cannot write it: {blocker} is a file, not a directory", error.Message);

        error = Assert.Throws<IOException>(() => AtomicFile.WriteText("/proc/lmforge-test/tokenizer.json", "{}"));
        Assert.StartsWith("/proc/lmforge-test/tokenizer.json: cannot write it: its directory /proc/lmforge-test cannot be created here (", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Write_RemovesTheTemporaryOfAKilledWriter_OfTheSameTarget_Only()
    {
        // What a `lmforge tokenizer train` killed while saving leaves: tokenizer.json.{pid}-{n}.tmp of a gone process.
        int gone = ExitedProcessId();
        string target = Path.Combine(directory, "tokenizer.json");
        string stale = Path.Combine(directory, $"tokenizer.json.{gone}-1.tmp");
        string ours = Path.Combine(directory, $"tokenizer.json.{Environment.ProcessId}-999999.tmp");
        string otherTarget = Path.Combine(directory, $"other.json.{gone}-1.tmp");
        string notOurs = Path.Combine(directory, "tokenizer.json.notes.tmp");
        foreach (string file in new[] { stale, ours, otherTarget, notOurs })
            File.WriteAllText(file, "half");

        AtomicFile.WriteText(target, "{}");

        Assert.Equal("{}", File.ReadAllText(target));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(ours)); // this process may be writing it
        Assert.True(File.Exists(otherTarget));
        Assert.True(File.Exists(notOurs));
    }
}
