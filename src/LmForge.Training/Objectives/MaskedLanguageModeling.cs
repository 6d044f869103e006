namespace LmForge.Training.Objectives;

/// <summary>
/// BERT's masked-LM example builder with RoBERTa's dynamic masking: each time a window is served the caller passes a
/// new stream id, so the same window gets a fresh mask, while the same (seed, stream) always gives the same example.
/// </summary>
/// <remarks>
/// The algorithm, in the order it draws from the random stream:
/// <list type="number">
/// <item>The eligible positions are those whose token is not special (the mask id counts as special), in order; E of them.</item>
/// <item>k = round(SelectionRate × E), half to even; at least 1 when E &gt; 0 and SelectionRate &gt; 0.</item>
/// <item>k positions are chosen without replacement by a partial Fisher-Yates shuffle of the eligible list:
/// for j = 0..k-1, r = j + NextInt(E - j), swap entries j and r; entries 0..k-1 are the chosen positions.</item>
/// <item>Then for each chosen position in that order, u = NextSingle(): u &lt; MaskFraction gives the mask id;
/// else u &lt; MaskFraction + RandomTokenFraction gives an ordinary token drawn next with NextInt (the n-th
/// non-special id of [0, VocabularySize)); else the token stays.</item>
/// </list>
/// The target is the original token at every chosen position and <see cref="IgnoreTarget"/> elsewhere.
/// </remarks>
public sealed class MaskedLanguageModeling
{
    /// <summary>The target of a position the loss skips.</summary>
    public const int IgnoreTarget = -1;

    readonly int[] _specials; // sorted, distinct, all in [0, VocabularySize)

    /// <param name="vocabularySize">Token ids are in [0, vocabularySize).</param>
    /// <param name="maskId">The [MASK] token; never chosen and never drawn as a random replacement.</param>
    /// <param name="specialIds">Tokens never chosen and never drawn as a random replacement ([CLS], [SEP], [PAD], ...).</param>
    /// <param name="selectionRate">The fraction of eligible positions chosen for the loss (BERT: 0.15).</param>
    /// <param name="maskFraction">Of the chosen positions, the fraction replaced by the mask id (BERT: 0.8).</param>
    /// <param name="randomTokenFraction">Of the chosen positions, the fraction replaced by a random ordinary token (BERT: 0.1).</param>
    public MaskedLanguageModeling(int vocabularySize, int maskId, IEnumerable<int> specialIds,
        double selectionRate = 0.15, double maskFraction = 0.8, double randomTokenFraction = 0.1)
    {
        if (vocabularySize < 1)
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), $"masked LM vocabularySize = {vocabularySize} is invalid; expected at least 1");
        if (maskId < 0 || maskId >= vocabularySize)
            throw new ArgumentOutOfRangeException(nameof(maskId), $"masked LM maskId = {maskId} is invalid; expected an id in [0, {vocabularySize})");
        CheckFraction(selectionRate, nameof(selectionRate));
        CheckFraction(maskFraction, nameof(maskFraction));
        CheckFraction(randomTokenFraction, nameof(randomTokenFraction));
        if (maskFraction + randomTokenFraction > 1)
            throw new ArgumentOutOfRangeException(nameof(randomTokenFraction),
                $"masked LM maskFraction + randomTokenFraction = {maskFraction + randomTokenFraction} is invalid; expected at most 1 (the rest stay unchanged)");

        _specials = specialIds.Append(maskId).Where(id => id >= 0 && id < vocabularySize).Distinct().Order().ToArray();
        if (randomTokenFraction > 0 && _specials.Length == vocabularySize)
            throw new ArgumentOutOfRangeException(nameof(randomTokenFraction),
                $"masked LM randomTokenFraction = {randomTokenFraction} needs an ordinary token, but all {vocabularySize} ids are special; set it to 0");
        VocabularySize = vocabularySize;
        MaskId = maskId;
        SelectionRate = selectionRate;
        MaskFraction = maskFraction;
        RandomTokenFraction = randomTokenFraction;
    }

    public int VocabularySize { get; }
    public int MaskId { get; }
    public double SelectionRate { get; }
    public double MaskFraction { get; }
    public double RandomTokenFraction { get; }

    /// <summary>Whether <paramref name="id"/> is never chosen and never drawn as a replacement.</summary>
    public bool IsSpecial(int id) => Array.BinarySearch(_specials, id) >= 0;

    /// <summary>How many positions are chosen among <paramref name="eligible"/> non-special ones.</summary>
    public int ChosenCount(int eligible)
    {
        if (eligible == 0 || SelectionRate == 0) return 0;
        return Math.Max(1, (int)Math.Round(SelectionRate * eligible, MidpointRounding.ToEven));
    }

    /// <summary>Builds the example of <paramref name="window"/> for one serving of it: stream <paramref name="stream"/> of <paramref name="seed"/>.</summary>
    public int Build(ReadOnlySpan<int> window, ulong seed, ulong stream, Span<int> inputs, Span<int> targets) =>
        Build(window, CounterRandom.Derive(seed, stream), inputs, targets);

    /// <summary>
    /// Writes the corrupted <paramref name="inputs"/> and the <paramref name="targets"/> (original id at chosen positions,
    /// <see cref="IgnoreTarget"/> elsewhere), both as long as <paramref name="window"/>. Returns the number of chosen positions.
    /// </summary>
    public int Build(ReadOnlySpan<int> window, CounterRandom random, Span<int> inputs, Span<int> targets)
    {
        if (inputs.Length != window.Length || targets.Length != window.Length)
            throw new ArgumentException(
                $"masked LM: inputs ({inputs.Length}) and targets ({targets.Length}) must be as long as the window ({window.Length})");

        int n = window.Length;
        int[]? rented = null;
        Span<int> eligible = n <= 256 ? stackalloc int[256] : (rented = System.Buffers.ArrayPool<int>.Shared.Rent(n));
        try
        {
            int count = 0;
            for (int i = 0; i < n; i++)
                if (!IsSpecial(window[i])) eligible[count++] = i;

            window.CopyTo(inputs);
            targets.Fill(IgnoreTarget);
            int chosen = ChosenCount(count);
            for (int j = 0; j < chosen; j++)
            {
                int r = j + random.NextInt(count - j);
                (eligible[j], eligible[r]) = (eligible[r], eligible[j]);
            }
            for (int j = 0; j < chosen; j++)
            {
                int position = eligible[j];
                targets[position] = window[position];
                float u = random.NextSingle();
                if (u < MaskFraction) inputs[position] = MaskId;
                else if (u < MaskFraction + RandomTokenFraction) inputs[position] = OrdinaryToken(random.NextInt(VocabularySize - _specials.Length));
            }
            return chosen;
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<int>.Shared.Return(rented);
        }
    }

    // The n-th id of [0, VocabularySize) that is not special: walk the sorted specials, stepping over each one at or below.
    int OrdinaryToken(int n)
    {
        foreach (int special in _specials)
        {
            if (special > n) break;
            n++;
        }
        return n;
    }

    static void CheckFraction(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
            throw new ArgumentOutOfRangeException(name, $"masked LM {name} = {value} is invalid; expected a value in [0, 1]");
    }
}
