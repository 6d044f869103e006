namespace LmForge.Training;

/// <summary>
/// A seeded, counter-based random stream: value i is SplitMix64(seed, i). Its whole state is (Seed, Counter), so a
/// checkpoint stores two integers and a resumed run draws exactly the numbers it would have drawn uninterrupted.
/// </summary>
public sealed class CounterRandom(ulong seed, ulong counter = 0)
{
    public ulong Seed { get; } = seed;

    /// <summary>How many 64-bit values have been drawn so far.</summary>
    public ulong Counter { get; private set; } = counter;

    /// <summary>A stream for a sub-task (for example the shuffle of one epoch), independent of this one's counter.</summary>
    public static CounterRandom Derive(ulong seed, ulong stream) => new(Mix(seed ^ Mix(stream + 0x632BE59BD9B4E019UL)));

    public ulong NextUInt64() => Mix(Seed + 0x9E3779B97F4A7C15UL * ++Counter);

    /// <summary>Uniform in [0, 1) with 24 bits, exactly representable as a float.</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform in [0, bound) for bound ≥ 1, without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        ulong range = (ulong)bound;
        ulong threshold = (0UL - range) % range;
        while (true)
        {
            ulong x = NextUInt64();
            UInt128 product = (UInt128)x * range;
            if ((ulong)product >= threshold) return (int)(ulong)(product >> 64);
        }
    }

    /// <summary>Fisher-Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    // SplitMix64 finalizer (Steele, Lea, Flood 2014).
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
