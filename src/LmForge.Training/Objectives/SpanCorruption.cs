namespace LmForge.Training.Objectives;

/// <summary>
/// T5's span-corruption example builder (Raffel et al. 2020, and the description of t5.data.preprocessors'
/// random_spans_noise_mask, noise_span_to_unique_sentinel and random_spans_helper).
/// </summary>
/// <remarks>
/// For a window of L tokens (L ≥ 2), with round() half to even as Python's:
/// <list type="number">
/// <item>noise = round(L × NoiseDensity) clamped to [1, L - 1]; spans = round(noise / MeanSpanLength), at least 1 and at
/// most L - noise (T5 has no upper clamp and fails where it would bite; here each non-noise segment keeps ≥ 1 token).</item>
/// <item>The noise tokens are split into spans segments, then the L - noise non-noise tokens into spans segments, each
/// by <see cref="RandomSegmentation"/> (every segment ≥ 1, uniform over all such splits).</item>
/// <item>The window is non-noise segment 0, noise segment 0, non-noise segment 1, noise segment 1, ...: it starts with
/// non-noise and ends with noise.</item>
/// <item>input = each non-noise segment followed by sentinel i in place of noise segment i, then the end token;
/// target = sentinel i followed by the tokens of noise segment i for each i, then (when FinalSentinel) sentinel
/// <c>spans</c>, then the end token.</item>
/// </list>
/// T5's own targets stop after the last noise span (its windows always end on one), which is what
/// <see cref="Lengths"/> counts; the paper's figure and the Hugging Face T5 examples close the target with one more
/// sentinel, and so does this builder unless <c>finalSentinel</c> is false.
/// </remarks>
public sealed class SpanCorruption
{
    readonly int[] _sentinels;

    /// <param name="sentinelIds">The ids of &lt;extra_id_0&gt;, &lt;extra_id_1&gt;, ... in that order.</param>
    /// <param name="endId">The end token (EOS) closing both input and target.</param>
    /// <param name="noiseDensity">The fraction of tokens corrupted, in (0, 1); T5: 0.15.</param>
    /// <param name="meanSpanLength">The mean length of a noise span, at least 1; T5: 3.</param>
    /// <param name="finalSentinel">Whether the target closes with one more sentinel before the end token.</param>
    public SpanCorruption(IReadOnlyList<int> sentinelIds, int endId,
        double noiseDensity = 0.15, double meanSpanLength = 3, bool finalSentinel = true)
    {
        CheckSettings(noiseDensity, meanSpanLength);
        if (sentinelIds.Count == 0)
            throw new ArgumentException("span corruption needs sentinel ids (<extra_id_0>, <extra_id_1>, ...); got none", nameof(sentinelIds));
        _sentinels = [.. sentinelIds];
        EndId = endId;
        NoiseDensity = noiseDensity;
        MeanSpanLength = meanSpanLength;
        FinalSentinel = finalSentinel;
    }

    public int EndId { get; }
    public double NoiseDensity { get; }
    public double MeanSpanLength { get; }
    public bool FinalSentinel { get; }
    public IReadOnlyList<int> SentinelIds => _sentinels;

    /// <summary>The number of noise tokens and noise spans in a window of <paramref name="length"/> tokens (step 1 above).</summary>
    public (int NoiseTokens, int NoiseSpans) Counts(int length)
    {
        if (length < 2)
            throw new ArgumentOutOfRangeException(nameof(length),
                $"span corruption needs a window of at least 2 tokens (one noise, one kept); got {length}: use longer windows");
        int noise = Math.Clamp(RoundHalfEven(length * NoiseDensity), 1, length - 1);
        int spans = Math.Clamp(RoundHalfEven(noise / MeanSpanLength), 1, length - noise);
        return (noise, spans);
    }

    /// <summary>The input length for a window of <paramref name="length"/> tokens: kept tokens, one sentinel per span, the end token.</summary>
    public int InputLength(int length)
    {
        var (noise, spans) = Counts(length);
        return length - noise + spans + 1;
    }

    /// <summary>The target length for a window of <paramref name="length"/> tokens: noise tokens, one sentinel per span, the final sentinel if any, the end token.</summary>
    public int TargetLength(int length)
    {
        var (noise, spans) = Counts(length);
        return noise + spans + (FinalSentinel ? 1 : 0) + 1;
    }

    /// <summary>Builds the example of <paramref name="window"/> for one serving of it: stream <paramref name="stream"/> of <paramref name="seed"/>.</summary>
    public (int InputLength, int TargetLength) Build(ReadOnlySpan<int> window, ulong seed, ulong stream, Span<int> input, Span<int> target) =>
        Build(window, CounterRandom.Derive(seed, stream), input, target);

    /// <summary>
    /// Writes the corrupted <paramref name="input"/> and the <paramref name="target"/>; each buffer must hold at least
    /// <see cref="InputLength"/> and <see cref="TargetLength"/> tokens of the window's length. Returns the lengths written.
    /// </summary>
    public (int InputLength, int TargetLength) Build(ReadOnlySpan<int> window, CounterRandom random, Span<int> input, Span<int> target)
    {
        var (noise, spans) = Counts(window.Length);
        int sentinelsNeeded = spans + (FinalSentinel ? 1 : 0);
        if (sentinelsNeeded > _sentinels.Length)
            throw new ArgumentException(
                $"span corruption of {window.Length} tokens needs {sentinelsNeeded} sentinel ids but has {_sentinels.Length}: add more <extra_id_N> tokens or use shorter windows");
        int inputLength = window.Length - noise + spans + 1, targetLength = noise + sentinelsNeeded + 1;
        if (input.Length < inputLength || target.Length < targetLength)
            throw new ArgumentException(
                $"span corruption of {window.Length} tokens writes {inputLength} input and {targetLength} target tokens; the buffers hold {input.Length} and {target.Length}");

        int[]? rented = null;
        Span<int> lengths = spans <= 128 ? stackalloc int[256] : (rented = System.Buffers.ArrayPool<int>.Shared.Rent(2 * spans));
        try
        {
            Span<int> noiseLengths = lengths[..spans], keptLengths = lengths.Slice(spans, spans);
            RandomSegmentation(noise, random, noiseLengths);
            RandomSegmentation(window.Length - noise, random, keptLengths);

            int at = 0, i = 0, t = 0;
            for (int span = 0; span < spans; span++)
            {
                ReadOnlySpan<int> kept = window.Slice(at, keptLengths[span]);
                kept.CopyTo(input[i..]);
                i += kept.Length;
                at += kept.Length;
                input[i++] = _sentinels[span];

                ReadOnlySpan<int> replaced = window.Slice(at, noiseLengths[span]);
                target[t++] = _sentinels[span];
                replaced.CopyTo(target[t..]);
                t += replaced.Length;
                at += replaced.Length;
            }
            input[i++] = EndId;
            if (FinalSentinel) target[t++] = _sentinels[spans];
            target[t++] = EndId;
            return (i, t);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<int>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Splits <paramref name="items"/> into <c>segments.Length</c> segments of at least one item each, uniformly over all
    /// such splits, as T5's _random_segmentation: of the items - 1 gaps between consecutive items, segments - 1 are chosen
    /// without replacement as segment boundaries. The gaps are chosen by a partial Fisher-Yates shuffle of gaps 1..items-1
    /// (for j = 0..segments-2, r = j + NextInt(items - 1 - j), swap entries j and r), sorted, and the lengths are the
    /// differences between consecutive boundaries with 0 and items at the ends.
    /// </summary>
    internal static void RandomSegmentation(int items, CounterRandom random, Span<int> segments)
    {
        int count = segments.Length;
        if (count < 1 || items < count)
            throw new ArgumentOutOfRangeException(nameof(items), $"cannot split {items} items into {count} non-empty segments");
        int gapCount = items - 1;
        int[]? rented = null;
        Span<int> gaps = gapCount <= 256 ? stackalloc int[256] : (rented = System.Buffers.ArrayPool<int>.Shared.Rent(gapCount));
        try
        {
            for (int g = 0; g < gapCount; g++) gaps[g] = g + 1;
            for (int j = 0; j < count - 1; j++)
            {
                int r = j + random.NextInt(gapCount - j);
                (gaps[j], gaps[r]) = (gaps[r], gaps[j]);
            }
            Span<int> boundaries = gaps[..(count - 1)];
            boundaries.Sort();
            int previous = 0;
            for (int s = 0; s < count - 1; s++)
            {
                segments[s] = boundaries[s] - previous;
                previous = boundaries[s];
            }
            segments[count - 1] = items - previous;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<int>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// T5's random_spans_helper with one sentinel per span in input and target: the largest raw window whose corrupted
    /// input, end token included, fits <paramref name="inputLength"/>, and the target length T5 gives it (noise tokens,
    /// one sentinel per span, the end token; no final sentinel: see <see cref="TargetLength"/> for this builder's).
    /// At the defaults, 512 input tokens come from 568 raw tokens and give 114 target tokens.
    /// </summary>
    public static (int RawTokens, int TargetLength) Lengths(int inputLength, double noiseDensity = 0.15, double meanSpanLength = 3)
    {
        CheckSettings(noiseDensity, meanSpanLength);
        if (inputLength < 2)
            throw new ArgumentOutOfRangeException(nameof(inputLength), $"span corruption inputLength = {inputLength} is invalid; expected at least 2");

        // T5 counts without the clamps of Counts: round(L × density) noise tokens, round(noise / mean) spans.
        (int Input, int Target) For(int raw)
        {
            int noise = RoundHalfEven(raw * noiseDensity);
            int spans = RoundHalfEven(noise / meanSpanLength);
            return (raw - noise + spans + 1, noise + spans + 1);
        }

        int rawTokens = inputLength - 1;
        while (For(rawTokens + 1).Input <= inputLength) rawTokens++;
        int targetLength = For(rawTokens).Target;
        // T5's adjustment so that at density 0.5 the target is no longer than the (usually round) input length.
        if (noiseDensity == 0.5 && targetLength > For(rawTokens).Input)
        {
            rawTokens--;
            targetLength--;
        }
        return (rawTokens, targetLength);
    }

    static int RoundHalfEven(double x) => (int)Math.Round(x, MidpointRounding.ToEven);

    static void CheckSettings(double noiseDensity, double meanSpanLength)
    {
        if (!(noiseDensity > 0 && noiseDensity < 1))
            throw new ArgumentOutOfRangeException(nameof(noiseDensity), $"span corruption noiseDensity = {noiseDensity} is invalid; expected a value in (0, 1)");
        if (!(meanSpanLength >= 1) || double.IsInfinity(meanSpanLength))
            throw new ArgumentOutOfRangeException(nameof(meanSpanLength), $"span corruption meanSpanLength = {meanSpanLength} is invalid; expected a number at least 1");
    }
}
