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
