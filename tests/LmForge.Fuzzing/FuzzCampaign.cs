using System.Diagnostics;

namespace LmForge.Fuzzing;

/// <summary>What a run of cases of one target found: the counts per outcome, the failures and the time.</summary>
public sealed record FuzzCampaign(FuzzTarget Target, int Seed, long Cases, long Accepted, long Rejected, IReadOnlyList<FuzzResult> Failures, TimeSpan Elapsed)
{
    /// <summary>Runs cases <paramref name="first"/> .. first + count - 1 of <paramref name="seed"/>; <paramref name="progress"/> hears each result.</summary>
    public static FuzzCampaign Run(FuzzTarget target, int seed, long count, long first = 0, TimeSpan? timeLimit = null, Action<FuzzResult>? progress = null)
    {
        using var runner = new FuzzRunner(target, timeLimit);
        var stopwatch = Stopwatch.StartNew();
        long accepted = 0, rejected = 0;
        var failures = new List<FuzzResult>();
        for (long i = first; i < first + count; i++)
        {
            var result = runner.Run(seed, i);
            switch (result.Outcome)
            {
                case FuzzOutcome.Accepted: accepted++; break;
                case FuzzOutcome.Rejected: rejected++; break;
                default: failures.Add(result); break;
            }
            progress?.Invoke(result);
        }
        return new FuzzCampaign(target, seed, count, accepted, rejected, failures, stopwatch.Elapsed);
    }
}
