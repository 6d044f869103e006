using LmForge.Training.Objectives;

namespace LmForge.Training.Tests.Objectives;

public class MaskedLanguageModelingTests
{
    const int Cls = 1, Sep = 2, Mask = 9;

    [Fact]
    public void HandWorkedExample_FollowsTheDocumentedDraws()
    {
        // Vocabulary 0..9: 0 [PAD], 1 [CLS], 2 [SEP], 9 [MASK] are special, so the ordinary ids are 3..8.
        var masking = new MaskedLanguageModeling(10, Mask, [0, Cls, Sep], selectionRate: 0.5, maskFraction: 0.2, randomTokenFraction: 0.27);
        int[] window = [Cls, 3, 4, 5, 6, 7, 8, 3, 4, Sep];

        // The draws of stream 7 of seed 20230828, in the order the builder makes them.
        var draws = CounterRandom.Derive(20230828, 7);
        Assert.Equal([4, 1, 4, 3], new[] { draws.NextInt(8), draws.NextInt(7), draws.NextInt(6), draws.NextInt(5) });
        Assert.Equal(0.101125f, draws.NextSingle(), 1e-6f);
        Assert.Equal(0.45698524f, draws.NextSingle(), 1e-6f);
        Assert.Equal(5, draws.NextInt(6));
        Assert.Equal(0.4734949f, draws.NextSingle(), 1e-6f);
        Assert.Equal(0.9122965f, draws.NextSingle(), 1e-6f);

        // Eligible positions [1..8], E = 8, k = round(0.5 × 8) = 4. Partial Fisher-Yates:
        // j=0 r=0+4: [5,2,3,4,1,6,7,8]; j=1 r=1+1: [5,3,2,4,...]; j=2 r=2+4: [5,3,7,4,1,6,2,8]; j=3 r=3+3: [5,3,7,2,...].
        // Chosen in order: positions 5, 3, 7, 2. Then with thresholds 0.2 (mask) and 0.47 (mask + random):
        // position 5: u=0.101 → [MASK]; position 3: u=0.457 → random ordinary token, NextInt(6)=5 → id 3+5 = 8;
        // position 7: u=0.473 → unchanged; position 2: u=0.912 → unchanged.
        var inputs = new int[10];
        var targets = new int[10];
        Assert.Equal(4, masking.Build(window, 20230828, 7, inputs, targets));
        Assert.Equal([Cls, 3, 4, 8, 6, Mask, 8, 3, 4, Sep], inputs);
        Assert.Equal([-1, -1, 4, 5, -1, 7, -1, 3, -1, -1], targets);
    }

    [Fact]
    public void EveryEligiblePositionChosen_AllBecomeMask_SpecialsStay()
    {
        var masking = new MaskedLanguageModeling(10, Mask, [0, Cls, Sep], selectionRate: 1, maskFraction: 1, randomTokenFraction: 0);
        int[] window = [Cls, 3, 4, Sep, 5, 6, Sep, 0, 0];
        var inputs = new int[9];
        var targets = new int[9];
        Assert.Equal(4, masking.Build(window, 1, 0, inputs, targets));
        Assert.Equal([Cls, Mask, Mask, Sep, Mask, Mask, Sep, 0, 0], inputs);
        Assert.Equal([-1, 3, 4, -1, 5, 6, -1, -1, -1], targets);
    }

    [Fact]
    public void OnlySpecials_NothingChosen()
    {
        var masking = new MaskedLanguageModeling(10, Mask, [0, Cls, Sep]);
        int[] window = [Cls, Sep, 0, Mask];
        var inputs = new int[4];
        var targets = new int[4];
        Assert.Equal(0, masking.Build(window, 1, 0, inputs, targets));
        Assert.Equal(window, inputs);
        Assert.All(targets, t => Assert.Equal(MaskedLanguageModeling.IgnoreTarget, t));
    }

    [Fact]
    public void ChosenCount_RoundsHalfToEven_AtLeastOne()
    {
        var quarter = new MaskedLanguageModeling(10, Mask, [], selectionRate: 0.25);
        Assert.Equal(0, quarter.ChosenCount(0));
        Assert.Equal(1, quarter.ChosenCount(1)); // round(0.25) = 0, raised to 1
        Assert.Equal(2, quarter.ChosenCount(6)); // round(1.5) = 2
        Assert.Equal(2, quarter.ChosenCount(10)); // round(2.5) = 2
        Assert.Equal(4, quarter.ChosenCount(14)); // round(3.5) = 4
        Assert.Equal(4, quarter.ChosenCount(18)); // round(4.5) = 4
    }

    [Fact]
    public void ManyWindows_ChooseFifteenPercent_SplitEightyTenTen()
    {
        // 3,000 windows of 128 tokens: [CLS] ... [SEP] with a [PAD] tail of random length, vocabulary 1,000.
        const int vocabulary = 1000, length = 128, windows = 3000;
        var masking = new MaskedLanguageModeling(vocabulary, 103, [0, 101, 102]);
        var text = new CounterRandom(20230828);
        var window = new int[length];
        var inputs = new int[length];
        var targets = new int[length];
        var chosenAt = new int[length];
        long eligible = 0, chosen = 0, masked = 0, replaced = 0, kept = 0;
        for (int w = 0; w < windows; w++)
        {
            int used = 64 + text.NextInt(length - 64 + 1);
            for (int i = 0; i < length; i++) window[i] = i >= used ? 0 : 104 + text.NextInt(vocabulary - 104);
            window[0] = 101;
            window[used - 1] = 102;
            eligible += used - 2;

            chosen += masking.Build(window, seed: 5, stream: (ulong)w, inputs, targets);
            for (int i = 0; i < length; i++)
            {
                if (targets[i] == MaskedLanguageModeling.IgnoreTarget)
                {
                    Assert.Equal(window[i], inputs[i]);
                    continue;
                }
                Assert.True(i > 0 && i < used - 1, $"special position {i} chosen");
                Assert.Equal(window[i], targets[i]);
                chosenAt[i]++;
                if (inputs[i] == 103) masked++;
                else if (inputs[i] != window[i]) { replaced++; Assert.False(masking.IsSpecial(inputs[i]), $"random token {inputs[i]} is special"); }
                else kept++;
            }
        }

        // The chosen count is round(0.15 × E) per window, so the overall fraction is 0.15 up to rounding (≤ 0.5/62 a window).
        Assert.InRange((double)chosen / eligible, 0.145, 0.155);
        // About 58,000 chosen: the standard deviation of the mask share is 0.0017, of each 10% share 0.0012; bounds are ~5σ.
        Assert.Equal(chosen, masked + replaced + kept);
        Assert.InRange((double)masked / chosen, 0.79, 0.81);
        Assert.InRange((double)replaced / chosen, 0.093, 0.107); // a random token equal to the original counts as kept: 0.1/996
        Assert.InRange((double)kept / chosen, 0.093, 0.107);
        // Positions 1..63 are always eligible, each chosen ~15% of 3,000 times (σ ≈ 0.0065).
        for (int i = 1; i < 64; i++) Assert.InRange(chosenAt[i] / (double)windows, 0.12, 0.18);
    }

    [Fact]
    public void RandomTokens_AreUniformOverTheOrdinaryIds()
    {
        // Specials 0 and 3, mask 5: the ordinary ids are 1, 2, 4, 6, 7.
        var masking = new MaskedLanguageModeling(8, 5, [0, 3], selectionRate: 1, maskFraction: 0, randomTokenFraction: 1);
        int[] window = Enumerable.Repeat(1, 100).ToArray();
        var inputs = new int[100];
        var targets = new int[100];
        var counts = new int[8];
        for (ulong stream = 0; stream < 500; stream++)
        {
            masking.Build(window, 9, stream, inputs, targets);
            foreach (int id in inputs) counts[id]++;
        }
        // 50,000 draws over 5 ids: 10,000 each, σ ≈ 89.
        Assert.Equal(0, counts[0] + counts[3] + counts[5]);
        foreach (int id in new[] { 1, 2, 4, 6, 7 }) Assert.InRange(counts[id], 9_500, 10_500);
    }

    [Fact]
    public void SameSeedAndStream_SameExample_OtherStreamsDiffer()
    {
        var masking = new MaskedLanguageModeling(1000, 103, [0, 101, 102]);
        int[] window = Enumerable.Range(200, 128).ToArray();
        (int[], int[]) Serve(ulong seed, ulong stream)
        {
            var inputs = new int[128];
            var targets = new int[128];
            masking.Build(window, seed, stream, inputs, targets);
            return (inputs, targets);
        }
        var first = Serve(42, 3);
        var again = Serve(42, 3);
        Assert.Equal(first.Item1, again.Item1);
        Assert.Equal(first.Item2, again.Item2);
        Assert.NotEqual(first.Item2, Serve(42, 4).Item2);
        Assert.NotEqual(first.Item2, Serve(43, 3).Item2);
    }

    [Theory]
    [InlineData(1.5, 0.8, 0.1, "selectionRate")]
    [InlineData(-0.1, 0.8, 0.1, "selectionRate")]
    [InlineData(0.15, 1.1, 0.0, "maskFraction")]
    [InlineData(0.15, 0.8, double.NaN, "randomTokenFraction")]
    [InlineData(0.15, 0.9, 0.2, "maskFraction + randomTokenFraction")]
    public void BadRates_Throw_OneLineNamingTheSetting(double selection, double mask, double random, string setting)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MaskedLanguageModeling(1000, 103, [0], selection, mask, random));
        Assert.Contains(setting, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void BadMaskId_OrBuffers_Throw()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MaskedLanguageModeling(10, 10, []));
        Assert.Contains("maskId", error.Message);
        var masking = new MaskedLanguageModeling(10, Mask, []);
        Assert.Throws<ArgumentException>(() => masking.Build(new int[4], 1, 0, new int[3], new int[4]));
    }
}
