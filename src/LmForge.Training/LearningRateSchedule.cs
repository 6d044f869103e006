namespace LmForge.Training;

/// <summary>The shape of the learning rate over a run.</summary>
public enum ScheduleKind
{
    /// <summary>Linear warmup to the peak, then cosine decay to the minimum at the last step (GPT-2, llm.c).</summary>
    Cosine,

    /// <summary>Warmup, a long stable phase at the peak, then a linear decay to the minimum over the last DecayFraction of steps.</summary>
    WarmupStableDecay,
}

/// <summary>Learning rate as a function of the step (0-based), for a run of TotalSteps optimizer steps.</summary>
public sealed record LearningRateSchedule(
    ScheduleKind Kind,
    float PeakLearningRate,
    float MinLearningRate,
    int WarmupSteps,
    int TotalSteps,
    float DecayFraction = 0.2f)
{
    public float At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLearningRate;
        return Kind switch
        {
            ScheduleKind.Cosine => Cosine(step),
            ScheduleKind.WarmupStableDecay => WarmupStableDecay(step),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown schedule"),
        };
    }

    float Cosine(int step)
    {
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = (double)(step - WarmupSteps) / decaySteps;
        double coefficient = 0.5 * (1.0 + Math.Cos(Math.PI * progress));
        return (float)(MinLearningRate + coefficient * (PeakLearningRate - MinLearningRate));
    }

    float WarmupStableDecay(int step)
    {
        int decaySteps = Math.Max(1, (int)Math.Round(TotalSteps * DecayFraction));
        int decayStart = TotalSteps - decaySteps;
        if (step < decayStart) return PeakLearningRate;
        double progress = (double)(step - decayStart) / decaySteps;
        return (float)(PeakLearningRate + progress * (MinLearningRate - PeakLearningRate));
    }
}
