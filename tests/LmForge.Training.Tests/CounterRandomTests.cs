namespace LmForge.Training.Tests;

public class CounterRandomTests
{
    [Fact]
    public void RestoredFromSeedAndCounter_ContinuesTheSameStream()
    {
        var straight = new CounterRandom(20230828);
        for (int i = 0; i < 10; i++) straight.NextUInt64();
        var restored = new CounterRandom(straight.Seed, straight.Counter);
        for (int i = 0; i < 10; i++) Assert.Equal(straight.NextUInt64(), restored.NextUInt64());
    }

    [Fact]
    public void NextInt_IsUniformEnough_AndShuffleIsAPermutation()
    {
        var random = new CounterRandom(20230828);
        var counts = new int[10];
        for (int i = 0; i < 100_000; i++) counts[random.NextInt(10)]++;
        // Each bucket expects 10,000 with standard deviation ~95: 600 is over 6 sigma.
        Assert.All(counts, c => Assert.InRange(c, 9_400, 10_600));
        int[] items = Enumerable.Range(0, 1000).ToArray();
        random.Shuffle(items);
        Assert.NotEqual(Enumerable.Range(0, 1000), items);
        Assert.Equal(Enumerable.Range(0, 1000), items.Order());
    }

    [Fact]
    public void NextSingle_StaysInUnitInterval()
    {
        var random = new CounterRandom(1);
        for (int i = 0; i < 10_000; i++) Assert.InRange(random.NextSingle(), 0f, 0.99999994f);
    }
}
