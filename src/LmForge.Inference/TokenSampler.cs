namespace LmForge.Inference;

/// <summary>
/// Picks a token from logits under <see cref="SamplingOptions"/> with a seeded SplitMix64 stream (64-bit state, so a
/// sampler can be recreated at any point). No sort of the vocabulary: top-k and top-p select their candidates by
/// partitioning around pivots (expected time linear in the vocabulary), and the draw walks the kept candidates. Scratch arrays are allocated once per sampler, not per token.
/// </summary>
public sealed class TokenSampler
{
    readonly SamplingOptions _options;
    readonly float[] _scores;
    readonly double[] _probabilities;
    readonly int[] _candidates;
    ulong _state;

    public TokenSampler(SamplingOptions options, int vocabularySize)
    {
        options.Validate();
        if (vocabularySize < 1) throw new ArgumentOutOfRangeException(nameof(vocabularySize), $"vocabulary of {vocabularySize} tokens; expected at least 1");
        _options = options;
        _scores = new float[vocabularySize];
        _probabilities = new double[vocabularySize];
        _candidates = new int[vocabularySize];
        _state = options.Seed ?? (ulong)Random.Shared.NextInt64();
    }

    /// <summary>
    /// The next token after logits (one per vocabulary entry). <paramref name="seen"/> marks the tokens already in the
    /// sequence, for the repetition penalty (null: none seen).
    /// </summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<bool> seen = default)
    {
        int vocabulary = _scores.Length;
        if (logits.Length != vocabulary) throw new ArgumentException($"expected {vocabulary} logits, got {logits.Length}", nameof(logits));
        logits.CopyTo(_scores);
        float penalty = _options.RepetitionPenalty;
        if (penalty != 1f && !seen.IsEmpty)
        {
            for (int i = 0; i < vocabulary; i++)
            {
                if (seen[i]) _scores[i] = _scores[i] > 0 ? _scores[i] / penalty : _scores[i] * penalty;
            }
        }
        if (_options.Temperature == 0) return ArgMax(_scores);

        // candidates [0, kept): all tokens, then the top k
        int kept = vocabulary;
        for (int i = 0; i < vocabulary; i++) _candidates[i] = i;
        if (_options.TopK > 0 && _options.TopK < vocabulary)
        {
            SelectLargest(_candidates, 0, vocabulary, _options.TopK, _scores);
            kept = _options.TopK;
        }

        // probabilities over the candidates, with the temperature
        float max = float.NegativeInfinity;
        for (int i = 0; i < kept; i++) max = Math.Max(max, _scores[_candidates[i]]);
        double inverseTemperature = 1.0 / _options.Temperature, sum = 0;
        for (int i = 0; i < kept; i++)
        {
            int token = _candidates[i];
            double p = Math.Exp((_scores[token] - max) * inverseTemperature);
            _probabilities[token] = p;
            sum += p;
        }
        if (_options.TopP < 1) kept = Nucleus(kept, _options.TopP * sum);
        if (_options.MinP > 0)
        {
            // the most likely token has probability exp(0)/sum, so the threshold min-p × p_max is min-p in these units
            double threshold = _options.MinP;
            int write = 0;
            for (int i = 0; i < kept; i++)
            {
                if (_probabilities[_candidates[i]] >= threshold) _candidates[write++] = _candidates[i];
            }
            kept = write;
        }

        // the draw walks the kept candidates in the order the (deterministic) selection left them: any fixed order
        // gives the same distribution, and the same seed and logits give the same token
        double total = 0;
        for (int i = 0; i < kept; i++) total += _probabilities[_candidates[i]];
        double u = NextUniform() * total, running = 0;
        for (int i = 0; i < kept; i++)
        {
            running += _probabilities[_candidates[i]];
            if (u < running) return _candidates[i];
        }
        return _candidates[kept - 1];
    }

    // The smallest set of the most likely candidates whose probability mass reaches target: quickselect on probability,
    // keeping whole upper partitions while they fall short. Returns how many candidates, now at the front, are kept.
    int Nucleus(int count, double target)
    {
        int lo = 0, hi = count;
        double taken = 0;
        while (hi - lo > 1)
        {
            // [lo, hi) is undecided; everything before lo is kept
            double pivot = MedianOfThree(lo, hi);
            int greater = lo;
            for (int i = lo; i < hi; i++)
            {
                if (_probabilities[_candidates[i]] > pivot)
                {
                    (_candidates[i], _candidates[greater]) = (_candidates[greater], _candidates[i]);
                    greater++;
                }
            }
            int equal = greater;
            for (int i = greater; i < hi; i++)
            {
                if (_probabilities[_candidates[i]] == pivot)
                {
                    (_candidates[i], _candidates[equal]) = (_candidates[equal], _candidates[i]);
                    equal++;
                }
            }
            double upper = 0;
            for (int i = lo; i < greater; i++) upper += _probabilities[_candidates[i]];
            if (taken + upper >= target)
            {
                if (greater - lo == hi - lo) break; // cannot happen with a pivot from the range, kept as a guard
                hi = greater;
                continue;
            }
            taken += upper;
            // tokens equal to the pivot, lowest id first, until the mass is reached
            Array.Sort(_candidates, greater, equal - greater);
            for (int i = greater; i < equal; i++)
            {
                taken += _probabilities[_candidates[i]];
                if (taken >= target) return i + 1;
            }
            lo = equal;
        }
        return Math.Max(1, hi);
    }

    double MedianOfThree(int lo, int hi)
    {
        double a = _probabilities[_candidates[lo]], b = _probabilities[_candidates[lo + ((hi - lo) / 2)]], c = _probabilities[_candidates[hi - 1]];
        return Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));
    }

    // Moves the k largest scores (ties: lower token id first) of candidates[lo, hi) to its front, in no particular order.
    static void SelectLargest(int[] candidates, int lo, int hi, int k, float[] scores)
    {
        static bool Before(float[] s, int a, int b) => s[a] > s[b] || (s[a] == s[b] && a < b);
        int target = lo + k;
        while (hi - lo > 1)
        {
            int middle = lo + ((hi - lo) / 2);
            // median of three as the pivot, moved to the end
            if (Before(scores, candidates[middle], candidates[lo])) (candidates[middle], candidates[lo]) = (candidates[lo], candidates[middle]);
            if (Before(scores, candidates[hi - 1], candidates[lo])) (candidates[hi - 1], candidates[lo]) = (candidates[lo], candidates[hi - 1]);
            if (Before(scores, candidates[middle], candidates[hi - 1])) (candidates[middle], candidates[hi - 1]) = (candidates[hi - 1], candidates[middle]);
            int pivot = candidates[hi - 1], store = lo;
            for (int i = lo; i < hi - 1; i++)
            {
                if (Before(scores, candidates[i], pivot))
                {
                    (candidates[i], candidates[store]) = (candidates[store], candidates[i]);
                    store++;
                }
            }
            (candidates[store], candidates[hi - 1]) = (candidates[hi - 1], candidates[store]);
            if (store == target || store == target - 1) return;
            if (store > target) hi = store;
            else lo = store + 1;
        }
    }

    static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
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
