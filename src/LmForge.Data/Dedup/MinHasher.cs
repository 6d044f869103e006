namespace LmForge.Data.Dedup;

/// <summary>
/// MinHash signature of a document: its normalized word n-grams are hashed to 64-bit values x, and for each of
/// HashCount hash functions h_i(x) = g(a_i x + b_i mod 2^64), a_i odd, g(v) = v ^ (v >> 29) (both bijections of
/// the 64-bit values), the minimum over all n-grams is kept. (datatrove computes (a x + b) mod (2^61 - 1) but in
/// numpy uint64, so its products wrap mod 2^64 first as well; a 64x64->128-bit multiply per hash was 10x slower
/// here.) A document with fewer than n words is one n-gram of all its words. Reuses its buffers: one instance per
/// thread.
/// </summary>
public sealed class MinHasher
{
    private readonly MinHashConfig _config;
    private readonly ulong[] _a;
    private readonly ulong[] _b;
    private readonly DedupTextNormalizer _normalizer = new();
    private readonly List<ulong> _wordHashes = [];

    public MinHasher(MinHashConfig config)
    {
        config.Validate();
        _config = config;
        _a = new ulong[config.HashCount];
        _b = new ulong[config.HashCount];
        ulong state = config.Seed;
        for (int i = 0; i < config.HashCount; i++)
        {
            _a[i] = SplitMix64(ref state) | 1;
            _b[i] = SplitMix64(ref state);
        }
    }

    public MinHashConfig Config => _config;

    /// <summary>Writes the HashCount minima of text into signature (bucket-major: bucket b owns [b*H, (b+1)*H)).
    /// Returns the number of n-grams hashed (0 for a text with no word, whose signature is all ones).</summary>
    public int Signature(string text, Span<ulong> signature)
    {
        if (signature.Length != _config.HashCount) throw new ArgumentException($"signature needs {_config.HashCount} slots, got {signature.Length}");
        signature.Fill(ulong.MaxValue);
        _normalizer.WordHashes(text, _wordHashes);
        int words = _wordHashes.Count;
        if (words == 0) return 0;
        int n = Math.Min(_config.NGram, words);
        int grams = words - n + 1;
        for (int g = 0; g < grams; g++)
        {
            ulong h = (ulong)n;
            for (int k = 0; k < n; k++) h = StableHash.Combine(h, _wordHashes[g + k]);
            Update(StableHash.Finalize(h), signature);
        }
        return grams;
    }

    // signature[i] = min(signature[i], h_i(x)) for every i.
    private void Update(ulong x, Span<ulong> signature)
    {
        var a = _a.AsSpan(0, signature.Length);
        var b = _b.AsSpan(0, signature.Length);
        for (int i = 0; i < signature.Length; i++)
        {
            ulong v = a[i] * x + b[i];
            v ^= v >> 29;
            if (v < signature[i]) signature[i] = v;
        }
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
