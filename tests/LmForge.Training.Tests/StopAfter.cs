using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

/// <summary>Cancels a run after its step <c>steps</c> (as Ctrl+C would), so a test can resume it from the checkpoint it saves.</summary>
sealed class StopAfter(int steps, CancellationTokenSource source) : ITrainingListener
{
    public void OnStep(MetricsRecord record, int totalSteps, TimeSpan remaining)
    {
        if (record.Step + 1 == steps) source.Cancel();
    }
}
