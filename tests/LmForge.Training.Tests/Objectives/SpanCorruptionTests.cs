using LmForge.Training.Objectives;

namespace LmForge.Training.Tests.Objectives;

public class SpanCorruptionTests
{
    const int Eos = 1;
    static readonly int[] Sentinels = Enumerable.Range(0, 100).Select(i => 32099 - i).ToArray(); // T5: <extra_id_0> is the last id

    [Fact]
    public void HandWorked_OneSpan_IsForced()
    {
        // L = 10, density 0.2: noise = round(2) = 2, spans = round(2 / 3) = 1; one segment each, so no choice is left.
        var corruption = new SpanCorruption(Sentinels, Eos, noiseDensity: 0.2, meanSpanLength: 3);
        int[] window = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
        var input = new int[32];
        var target = new int[32];
        var (i, t) = corruption.Build(window, 1, 0, input, target);
        Assert.Equal([10, 11, 12, 13, 14, 15, 16, 17, 32099, Eos], input[..i]);
        Assert.Equal([32099, 18, 19, 32098, Eos], target[..t]);

        var t5Targets = new SpanCorruption(Sentinels, Eos, noiseDensity: 0.2, meanSpanLength: 3, finalSentinel: false);
        (i, t) = t5Targets.Build(window, 1, 0, input, target);
        Assert.Equal([32099, 18, 19, Eos], target[..t]);
    }

    [Fact]
    public void HandWorked_EveryOtherToken_IsForced()
    {
        // L = 6, density 0.5, mean 1: noise = 3, spans = 3, kept = 3: every segment is one token.
        var corruption = new SpanCorruption([100, 101, 102, 103], Eos, noiseDensity: 0.5, meanSpanLength: 1);
        int[] window = [10, 11, 12, 13, 14, 15];
        var input = new int[16];
        var target = new int[16];
        var (i, t) = corruption.Build(window, 1, 0, input, target);
        Assert.Equal([10, 100, 12, 101, 14, 102, Eos], input[..i]);
        Assert.Equal([100, 11, 101, 13, 102, 15, 103, Eos], target[..t]);
    }

    [Fact]
    public void HandWorked_FixedSeed_FollowsTheDocumentedDraws()
    {
        // L = 10, density 0.4, mean 2: noise = 4, spans = 2, kept = 6.
        var corruption = new SpanCorruption([100, 101, 102], Eos, noiseDensity: 0.4, meanSpanLength: 2);
        var draws = CounterRandom.Derive(5, 3);
        Assert.Equal(2, draws.NextInt(3));
        Assert.Equal(4, draws.NextInt(5));
        // Noise: 4 items, gaps [1,2,3], r = 0 + 2 picks gap 3: lengths [3, 1].
        // Kept: 6 items, gaps [1..5], r = 0 + 4 picks gap 5: lengths [5, 1].
        // Window: kept 10..14, noise 15..17, kept 18, noise 19.
        int[] window = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
        var input = new int[16];
        var target = new int[16];
        var (i, t) = corruption.Build(window, 5, 3, input, target);
        Assert.Equal([10, 11, 12, 13, 14, 100, 18, 101, Eos], input[..i]);
        Assert.Equal([100, 15, 16, 17, 101, 19, 102, Eos], target[..t]);
    }

    [Fact]
    public void Lengths_AsT5RandomSpansHelper_512InputsFrom568RawGive114Targets()
    {
        Assert.Equal((568, 114), SpanCorruption.Lengths(512));
        Assert.Equal((568, 114), SpanCorruption.Lengths(512, 0.15, 3));

        // 568 raw tokens: noise round(85.2) = 85, spans round(28.3) = 28: input 483 + 28 + 1 = 512; 569 gives 513.
        var corruption = new SpanCorruption(Sentinels, Eos);
        Assert.Equal(512, corruption.InputLength(568));
        Assert.Equal(513, corruption.InputLength(569));
        // T5's 114 targets are 85 noise + 28 sentinels + EOS; this builder's final sentinel makes 115.
        Assert.Equal(115, corruption.TargetLength(568));
        Assert.Equal(114, new SpanCorruption(Sentinels, Eos, finalSentinel: false).TargetLength(568));

        var window = Enumerable.Range(1000, 568).ToArray();
        var input = new int[512];
        var target = new int[115];
        Assert.Equal((512, 115), corruption.Build(window, 7, 0, input, target));
    }

    [Fact]
    public void ManyWindows_NoiseFractionAndMeanSpanLength_AsRequested()
    {
        var corruption = new SpanCorruption(Sentinels, Eos);
        var lengths = new CounterRandom(20230828);
        var input = new int[1024];
        var target = new int[1024];
        long tokens = 0, noise = 0, spans = 0;
        var spanLengths = new int[64];
        for (ulong w = 0; w < 2000; w++)
        {
            int length = 50 + lengths.NextInt(551);
            int[] window = Enumerable.Range(2, length).ToArray();
            var (i, t) = corruption.Build(window, 11, w, input, target);
            // Spans are the sentinels of the input; the noise tokens are the target less its sentinels and EOS.
            int inputSentinels = input[..i].Count(id => id >= 32000);
            int targetNoise = t - inputSentinels - 2;
            tokens += length;
            spans += inputSentinels;
            noise += targetNoise;
            int run = 0;
            for (int k = 0; k < t; k++)
            {
                if (target[k] >= 32000 || target[k] == Eos)
                {
                    if (run > 0) spanLengths[Math.Min(run, 63)]++;
                    run = 0;
                }
                else run++;
            }
        }
        // Per window noise = round(0.15 L) and spans = round(noise / 3): rounding moves the totals by well under 1%.
        Assert.InRange((double)noise / tokens, 0.148, 0.152);
        Assert.InRange((double)noise / spans, 2.9, 3.1);
        // The lengths of single spans vary (uniform splits): about 1 in 3 spans is one token, some are much longer than 3.
        long all = spanLengths.Sum();
        Assert.Equal(spans, all);
        Assert.InRange(spanLengths[1] / (double)all, 0.25, 0.40);
        Assert.True(spanLengths.Skip(8).Sum() > 0);
    }

    [Fact]
    public void RandomSegmentation_IsUniformOverSplits()
    {
        // 5 items into 3 non-empty segments: C(4, 2) = 6 splits, each 1/6 of 60,000 (σ ≈ 91).
        var random = new CounterRandom(20230828);
        var counts = new Dictionary<(int, int, int), int>();
        var segments = new int[3];
        for (int n = 0; n < 60_000; n++)
        {
            SpanCorruption.RandomSegmentation(5, random, segments);
            var key = (segments[0], segments[1], segments[2]);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        Assert.All(counts, pair => Assert.Equal(5, pair.Key.Item1 + pair.Key.Item2 + pair.Key.Item3));
        Assert.All(counts.Values, c => Assert.InRange(c, 9_500, 10_500));
    }

    [Theory]
    [InlineData(2, 0.15, 3.0)]
    [InlineData(3, 0.5, 1.0)]
    [InlineData(37, 0.15, 3.0)]
    [InlineData(100, 0.3, 1.5)]
    [InlineData(568, 0.15, 3.0)]
    [InlineData(1000, 0.9, 2.0)]
    public void EveryExample_ReconstructsTheWindow(int length, double density, double meanSpan)
    {
        foreach (bool finalSentinel in new[] { true, false })
        {
            var corruption = new SpanCorruption(Sentinels.Concat(Enumerable.Range(40_000, 1000)).ToArray(), Eos, density, meanSpan, finalSentinel);
            int[] window = Enumerable.Range(0, length).Select(k => 2 + (k * 7919) % 30000).ToArray();
            var input = new int[corruption.InputLength(length)];
            var target = new int[corruption.TargetLength(length)];
            for (ulong stream = 0; stream < 20; stream++)
            {
                var (i, t) = corruption.Build(window, 3, stream, input, target);
                Assert.Equal((input.Length, target.Length), (i, t));
                Assert.Equal(Eos, input[^1]);
                Assert.Equal(Eos, target[^1]);
                Assert.Equal(window, Reconstruct(input, target, corruption.SentinelIds));
            }
        }
    }

    // Replaces each sentinel of the input by the tokens that follow the same sentinel in the target.
    static int[] Reconstruct(int[] input, int[] target, IReadOnlyList<int> sentinels)
    {
        var isSentinel = sentinels.ToHashSet();
        var spans = new Dictionary<int, List<int>>();
        List<int>? current = null;
        foreach (int id in target[..^1])
        {
            if (isSentinel.Contains(id)) spans[id] = current = [];
            else current!.Add(id);
        }
        var window = new List<int>();
        foreach (int id in input[..^1])
        {
            if (isSentinel.Contains(id)) window.AddRange(spans[id]);
            else window.Add(id);
        }
        return [.. window];
    }

    [Fact]
    public void SameSeedAndStream_SameExample_OtherStreamsDiffer()
    {
        var corruption = new SpanCorruption(Sentinels, Eos);
        int[] window = Enumerable.Range(2, 200).ToArray();
        int[] Serve(ulong stream)
        {
            var input = new int[200];
            var (i, _) = corruption.Build(window, 42, stream, input, new int[200]);
            return input[..i];
        }
        Assert.Equal(Serve(3), Serve(3));
        Assert.NotEqual(Serve(3), Serve(4));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void WindowTooShort_Throws_OneLine(int length)
    {
        var corruption = new SpanCorruption(Sentinels, Eos);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => corruption.Build(new int[length], 1, 0, new int[8], new int[8]));
        Assert.Contains("at least 2 tokens", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void FewerSentinelsThanSpans_Throws_OneLine()
    {
        // 568 tokens make 28 spans: 28 sentinels plus the final one are needed.
        var corruption = new SpanCorruption(Sentinels[..28], Eos);
        var error = Assert.Throws<ArgumentException>(() => corruption.Build(new int[568], 1, 0, new int[512], new int[115]));
        Assert.Contains("needs 29 sentinel ids but has 28", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        var t5Targets = new SpanCorruption(Sentinels[..28], Eos, finalSentinel: false);
        Assert.Equal((512, 114), t5Targets.Build(Enumerable.Range(2, 568).ToArray(), 1, 0, new int[512], new int[114]));
    }

    [Theory]
    [InlineData(0.0, 3.0, "noiseDensity")]
    [InlineData(1.0, 3.0, "noiseDensity")]
    [InlineData(-0.2, 3.0, "noiseDensity")]
    [InlineData(double.NaN, 3.0, "noiseDensity")]
    [InlineData(0.15, 0.5, "meanSpanLength")]
    [InlineData(0.15, double.PositiveInfinity, "meanSpanLength")]
    public void BadSettings_Throw_OneLineNamingTheSetting(double density, double meanSpan, string setting)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SpanCorruption(Sentinels, Eos, density, meanSpan));
        Assert.Contains(setting, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => SpanCorruption.Lengths(512, density, meanSpan));
        Assert.Contains(setting, error.Message);
    }
}
