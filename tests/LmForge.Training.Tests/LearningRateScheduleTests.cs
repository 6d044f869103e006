namespace LmForge.Training.Tests;

public class LearningRateScheduleTests
{
    [Fact]
    public void Cosine_WarmsUpLinearlyThenFallsFromPeakThroughMidpointToMinimum()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.Cosine, 1e-3f, 1e-4f, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(1e-4f, schedule.At(0), 1e-9f);          // (0+1)/10 of the peak
        Assert.Equal(5e-4f, schedule.At(4), 1e-9f);
        Assert.Equal(1e-3f, schedule.At(9), 1e-9f);          // warmup ends at the peak
        Assert.Equal(1e-3f, schedule.At(10), 1e-9f);         // cos(0) = 1
        Assert.Equal(5.5e-4f, schedule.At(60), 1e-9f);       // halfway through the decay: cos(pi/2) = 0
        Assert.Equal(1e-4f, schedule.At(110), 1e-9f);        // the end and beyond: the minimum
        Assert.Equal(1e-4f, schedule.At(500), 1e-9f);
        for (int step = 10; step < 110; step++) Assert.True(schedule.At(step + 1) <= schedule.At(step));
    }

    [Fact]
    public void WarmupStableDecay_HoldsThePeakThenDecaysLinearlyOverTheLastFraction()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.WarmupStableDecay, 1e-3f, 0f, WarmupSteps: 10, TotalSteps: 100, DecayFraction: 0.2f);
        Assert.Equal(1e-3f, schedule.At(10), 1e-9f);
        Assert.Equal(1e-3f, schedule.At(79), 1e-9f);         // the decay starts at step 100 - 20 = 80
        Assert.Equal(1e-3f, schedule.At(80), 1e-9f);
        Assert.Equal(5e-4f, schedule.At(90), 1e-9f);
        Assert.Equal(0f, schedule.At(100), 1e-9f);
    }

    [Fact]
    public void At_NegativeStep_Throws()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.Cosine, 1e-3f, 0f, 0, 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.At(-1));
    }
}
