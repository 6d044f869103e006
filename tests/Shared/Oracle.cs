using Xunit.Sdk;

namespace LmForge.Tests.Shared;

/// <summary>
/// The one decision for tests that need an oracle or service from outside the repository (node and the npm oracles, a
/// Slurm cluster, ...). Locally a missing one skips the test, saying what is missing and which setup script installs
/// it. With CI=true (what .ci/run sets) it fails the test with the same message instead, so a broken install step
/// shows up red rather than as "N skipped"; test.sh also fails a CI run whose summary counts any skipped test.
/// </summary>
public static class Oracle
{
    /// <summary>True when the environment variable CI is "true" (any case), as .ci/run and most CI services set it.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// For a fact or theory attribute's <c>Skip</c>: null when the oracle is there; otherwise the reason, locally. Under
    /// CI also null, so the test runs and its <see cref="Require"/> fails it.
    /// </summary>
    public static string? SkipReason(bool available, string what, string howToInstall) =>
        available || InCi ? null : Message(what, howToInstall);

    /// <summary>
    /// Called where the test first needs the oracle: throws (fails the test) when it is missing. Locally such a test
    /// has already been skipped by <see cref="SkipReason"/>, so this only fires under CI.
    /// </summary>
    public static void Require(bool available, string what, string howToInstall)
    {
        if (!available)
            throw new XunitException((InCi ? "CI=true, so a missing oracle fails instead of skipping: " : "") + Message(what, howToInstall));
    }

    private static string Message(string what, string howToInstall) => $"missing {what}; {howToInstall}";
}
