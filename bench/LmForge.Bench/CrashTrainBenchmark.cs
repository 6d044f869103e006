using System.Globalization;
using LmForge.Testing;

namespace LmForge.Bench;

/// <summary>
/// `crash-train` suite: the crash-safety test at length (tests/Shared/CrashTraining.cs). The built `lmforge train`
/// trains a tiny GPT with a checkpoint every 4 steps and a validation every 6, is killed with SIGKILL N times (at random
/// moments, in checkpoint writes, in validations) and stopped with SIGINT, resumed after each, and must end byte for
/// byte where an uninterrupted run ends. Prints every life and the checks that failed; exits 1 when any did.
/// Usage: crash-train [--kills 20] [--interrupts kills/4] [--seed 1] [--steps max(240, 30 × signals)]
/// Needs the CLI built in Release: dotnet build src/LmForge.Cli -c Release
/// </summary>
public static class CrashTrainBenchmark
{
    public static int Run(string[] args)
    {
        int kills = IntOption(args, "--kills", 20);
        int interrupts = IntOption(args, "--interrupts", Math.Max(1, kills / 4));
        int seed = IntOption(args, "--seed", 1);
        int steps = IntOption(args, "--steps", Math.Max(240, 30 * (kills + interrupts)));
        string program = Path.Combine(RepositoryRoot(), "src", "LmForge.Cli", "bin", "Release", "net10.0", "lmforge.dll");
        if (!File.Exists(program)) throw new FileNotFoundException($"{program}: missing; build it first with dotnet build src/LmForge.Cli -c Release");
        string work = Directory.CreateTempSubdirectory("lmforge-crash-train-").FullName;
        Console.WriteLine($"crash-train suite: {kills} SIGKILLs, {interrupts} SIGINTs, seed {seed}, {steps} steps, {Environment.ProcessorCount} cores, work directory {work}");
        var result = CrashTraining.Run(new CrashTrainingOptions
        {
            Program = program, WorkDirectory = work, Kills = kills, Interrupts = interrupts, Seed = seed, Steps = steps, Log = Console.Out,
        });
        foreach (string failure in result.Failures) Console.WriteLine($"FAILED: {failure}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Kills} SIGKILLs ({result.KillsInCheckpointWrite} in a checkpoint write, {result.KillsInValidation} in a validation), {result.Interrupts} SIGINTs ({result.InterruptsInCheckpointWrite} in a checkpoint write), {result.Lives} processes, final step {result.FinalStep}, {result.Elapsed.TotalSeconds:F0} s: {(result.Passed ? "all checks passed" : $"{result.Failures.Count} checks FAILED")}"));
        if (result.Passed) Directory.Delete(work, recursive: true);
        return result.Passed ? 0 : 1;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no LmForge.slnx above {AppContext.BaseDirectory}");
    }

    private static int IntOption(string[] args, string name, int defaultValue)
    {
        int index = Array.IndexOf(args, name);
        if (index < 0) return defaultValue;
        if (index + 1 >= args.Length || !int.TryParse(args[index + 1], CultureInfo.InvariantCulture, out int value) || value < 0)
            throw new ArgumentException($"{name}: expected a number, 0 or more");
        return value;
    }
}
