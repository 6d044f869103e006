using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

public class MachinePeakTests
{
    [Fact]
    public void Probe_MeasuresAPositiveRate_OnEveryWorker()
    {
        var peak = MachinePeak.Measure(seconds: 0.05);
        Assert.Equal(PeakSource.Measured, peak.Source);
        Assert.True(peak.FlopsPerSecond > 1e8 && double.IsFinite(peak.FlopsPerSecond), $"{peak.FlopsPerSecond} FLOP/s");
        Assert.Equal(WorkerPool.Shared.WorkerCount, peak.Threads);
        Assert.Equal(MachinePeak.WidestInstructionSet, peak.InstructionSet);
        Assert.StartsWith("measured ", peak.Description, StringComparison.Ordinal);
        Assert.Contains($"{peak.InstructionSet} FMA", peak.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Cache_RoundTrips_PerKey_AndKeepsOtherEntries()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"lmforge-peak-{Guid.NewGuid():N}");
        string path = Path.Combine(directory, MachinePeak.CacheFileName);
        try
        {
            Assert.Null(MachinePeak.ReadCache(path, "cpu A | 2 threads | 512-bit"));
            MachinePeak.WriteCache(path, "cpu A | 2 threads | 512-bit", new MachinePeak(226.4e9, PeakSource.Measured, "512-bit", 2));
            MachinePeak.WriteCache(path, "cpu A | 2 threads | 256-bit", new MachinePeak(225.0e9, PeakSource.Measured, "256-bit", 2));
            var cached = MachinePeak.ReadCache(path, "cpu A | 2 threads | 512-bit");
            Assert.NotNull(cached);
            Assert.Equal(PeakSource.Cached, cached.Source);
            Assert.Equal(226.4e9, cached.FlopsPerSecond, 1e3);
            Assert.Equal("512-bit", cached.InstructionSet);
            Assert.Equal(2, cached.Threads);
            Assert.EndsWith("(cached)", cached.Description, StringComparison.Ordinal);
            Assert.Equal("256-bit", MachinePeak.ReadCache(path, "cpu A | 2 threads | 256-bit")!.InstructionSet);
            Assert.Null(MachinePeak.ReadCache(path, "cpu B | 2 threads | 512-bit"));
            Assert.Empty(Directory.GetFiles(directory, "*.tmp-*"));   // written under a temporary name, then renamed

            // this machine's entry is measured once and then read back
            var first = MachinePeak.FromCacheOrMeasure(directory);
            Assert.Equal(PeakSource.Measured, first.Source);
            var second = MachinePeak.FromCacheOrMeasure(directory);
            Assert.Equal(PeakSource.Cached, second.Source);
            // the cache keeps 0.1 GFLOP/s: with AVX2 off (~22 GFLOP/s) that rounding alone exceeds 0.1%
            Assert.Equal(first.FlopsPerSecond, second.FlopsPerSecond, Math.Max(first.FlopsPerSecond * 1e-3, 0.05e9 * 1.0001));

            // a damaged cache is not an error: it is measured afresh
            File.WriteAllText(path, "{ not json");
            Assert.Null(MachinePeak.ReadCache(path, MachinePeak.CacheKey()));
            Assert.Equal(PeakSource.Measured, MachinePeak.FromCacheOrMeasure(directory).Source);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void StatedPeak_BeatsTheMeasuredOne()
    {
        var stated = MachinePeak.Get(statedGflops: 500);
        Assert.Equal(PeakSource.Stated, stated.Source);
        Assert.Equal(500e9, stated.FlopsPerSecond);
        Assert.Equal("stated 500 GFLOP/s", stated.Description);

        string? before = Environment.GetEnvironmentVariable(MachinePeak.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(MachinePeak.EnvironmentVariable, "321.5");
            Assert.Equal(321.5e9, MachinePeak.Get().FlopsPerSecond);
            Assert.Equal(PeakSource.Stated, MachinePeak.Get().Source);
            Assert.Equal(100e9, MachinePeak.Get(statedGflops: 100).FlopsPerSecond);   // a setting beats the variable
            Environment.SetEnvironmentVariable(MachinePeak.EnvironmentVariable, "fast");
            var error = Assert.Throws<ArgumentException>(() => MachinePeak.Get());
            Assert.Contains("LMFORGE_PEAK_GFLOPS=fast", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MachinePeak.EnvironmentVariable, before);
        }
    }

    [Fact]
    public void Mfu_IsClampedToOne_AndAnExcessIsFlagged()
    {
        Assert.Equal(1.0, MachinePeak.Clamp(1.7));
        Assert.True(MachinePeak.Exceeds(1.7));
        Assert.Equal(0.35, MachinePeak.Clamp(0.35));
        Assert.False(MachinePeak.Exceeds(0.35));
        Assert.Equal(0.0, MachinePeak.Clamp(double.NaN));
        Assert.Equal(0.0, MachinePeak.Clamp(double.PositiveInfinity));
    }
}
