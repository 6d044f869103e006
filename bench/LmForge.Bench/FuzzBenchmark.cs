using System.Globalization;
using LmForge.Fuzzing;

namespace LmForge.Bench;

/// <summary>
/// bench fuzz [--target NAME|all] [--cases N] [--seed S] [--first I] [--time-limit SECONDS] [--verbose]: runs N mutated
/// inputs per reader (tests/LmForge.Fuzzing) and prints accepted, cleanly rejected and failed cases per reader with each
/// failure's case number, mutation and what went wrong; `--first I --cases 1 --verbose` replays one case. Exit code 1 when
/// any case failed.
/// </summary>
public static class FuzzBenchmark
{
    public static int Run(string[] args)
    {
        string target = "all";
        long cases = 10_000, first = 0;
        int seed = 1;
        double timeLimit = 10;
        bool verbose = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--target": target = args[++i]; break;
                case "--cases": cases = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--first": first = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--time-limit": timeLimit = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--verbose": verbose = true; break;
                default:
                    Console.Error.WriteLine($"fuzz: unknown option '{args[i]}'; usage: fuzz [--target {string.Join('|', FuzzTargets.All.Select(t => t.Name))}|all] [--cases N] [--seed S] [--first I] [--time-limit SECONDS] [--verbose]");
                    return 2;
            }
        }
        var targets = target == "all" ? FuzzTargets.All : [FuzzTargets.Get(target)];
        Console.WriteLine($"fuzz: {cases:N0} cases per reader from case {first}, seed {seed}, time limit {timeLimit} s per case");
        Console.WriteLine($"{"reader",-15} {"cases",8} {"accepted",9} {"rejected",9} {"failures",9} {"time",8}  entry point");
        long failed = 0;
        foreach (var t in targets)
        {
            var campaign = FuzzCampaign.Run(t, seed, cases, first, TimeSpan.FromSeconds(timeLimit), verbose ? Print : null);
            failed += campaign.Failures.Count;
            Console.WriteLine($"{t.Name,-15} {campaign.Cases,8:N0} {campaign.Accepted,9:N0} {campaign.Rejected,9:N0} {campaign.Failures.Count,9:N0} {campaign.Elapsed.TotalSeconds,7:F1}s  {t.Reader}");
            foreach (var failure in campaign.Failures.Take(20))
                Console.WriteLine($"  FAILED case {failure.Input.Index}: {failure.Input.Description}\n    {failure.Detail.Replace("\n", "\n    ")}");
        }
        return failed == 0 ? 0 : 1;
    }

    static void Print(FuzzResult result) =>
        Console.WriteLine($"  case {result.Input.Index} {result.Outcome}: {result.Input.Description}{(result.Detail.Length > 0 ? $"\n    {result.Detail}" : "")}");
}
