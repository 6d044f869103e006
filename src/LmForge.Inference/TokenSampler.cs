namespace LmForge.Inference;

/// <summary>
/// Picks a token from logits under <see cref="SamplingOptions"/> with a seeded SplitMix64 stream (64-bit state, so a
/// sampler can be recreated at any point). Scratch arrays are allocated once per sampler, not per token.
/// </summary>
public sealed class TokenSampler
{
    readonly SamplingOptions _options;
    readonly float[] _probabilities;
    readonly int[] _order;
    ulong _state;

    public TokenSampler(SamplingOptions options, int vocabularySize)
    {
        options.Validate();
        _options = options;
        _probabilities = new float[vocabularySize];
        _order = new int[vocabularySize];
        _state = options.Seed ?? (ulong)Random.Shared.NextInt64();
    }

    public int Sample(ReadOnlySpan<float> logits)
    {
        int vocabulary = _probabilities.Length;
        if (logits.Length != vocabulary) throw new ArgumentException($"expected {vocabulary} logits, got {logits.Length}", nameof(logits));
        if (_options.Temperature == 0) return ArgMax(logits);

        // Softmax of logits / temperature (max subtracted for stability).
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        for (int i = 0; i < vocabulary; i++)
        {
            float p = MathF.Exp((logits[i] - max) / _options.Temperature);
            _probabilities[i] = p;
            sum += p;
        }
        int kept = vocabulary;
        for (int i = 0; i < vocabulary; i++) _order[i] = i;
        if (_options.TopK > 0 || _options.TopP < 1)
        {
            // Most likely first; ties broken by token id so the result does not depend on the sort's stability.
            var probabilities = _probabilities;
            Array.Sort(_order, (a, b) => probabilities[b] != probabilities[a] ? probabilities[b].CompareTo(probabilities[a]) : a.CompareTo(b));
            if (_options.TopK > 0) kept = Math.Min(kept, _options.TopK);
            if (_options.TopP < 1)
            {
                double cumulative = 0, target = _options.TopP * sum;
                for (int i = 0; i < kept; i++)
                {
                    cumulative += _probabilities[_order[i]];
                    if (cumulative >= target) { kept = i + 1; break; }
                }
            }
            sum = 0;
            for (int i = 0; i < kept; i++) sum += _probabilities[_order[i]];
        }
        double u = NextUniform() * sum, running = 0;
        for (int i = 0; i < kept; i++)
        {
            running += _probabilities[_order[i]];
            if (u < running) return _order[i];
        }
        return _order[kept - 1];
    }

    static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    double NextUniform()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
