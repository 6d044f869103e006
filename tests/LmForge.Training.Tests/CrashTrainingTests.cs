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
}
