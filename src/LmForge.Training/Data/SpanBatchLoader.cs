using LmForge.Training.Objectives;

namespace LmForge.Training.Data;

/// <summary>
/// Span-corruption batches (T5's objective) over token shards: the raw windows of a <see cref="TokenBatchLoader"/>,
/// each corrupted by <see cref="SpanCorruption"/> with a random stream drawn from the window's data position (epoch,
/// shard, batch) and row, so a window served again in a later epoch loses other spans, and a resumed run (which seeks
/// to the saved position) corrupts exactly as the uninterrupted one. Inputs are the encoder's B×T rows, targets the
/// decoder's B×<see cref="TargetLength"/> labels.
/// </summary>
/// <remarks>
/// The windows are <see cref="RawLength"/>(corruption, T) tokens long (shorter ones work, padded further): the longest whose corrupted input
/// fits T. Its input is T tokens, or T − 1 when no raw length corrupts into exactly T (one more raw token can add two
/// input tokens, a kept one and a new span's sentinel, where the spans are as many as the kept tokens allow: high noise
/// density and short spans, never at T5's 0.15 and 3); then the row ends with one [PAD] (the padToken), which the
/// encoder sees as any other token (there is no attention mask). Targets past the built ones (none: every window has the
/// same length) are −1.
/// </remarks>
public sealed class SpanBatchLoader : IBatchSource
{
    private readonly TokenBatchLoader _windows;
    private readonly SpanCorruption _corruption;
    private readonly int _padToken;
    private readonly ulong _seed;
    private readonly int[] _window, _unused;

    /// <param name="windows">Raw windows: its sequence length is the raw length (see <see cref="RawLength"/>).</param>
    /// <param name="corruption">The example builder (sentinels, end token, noise density, mean span length).</param>
    /// <param name="inputLength">T, the encoder's input length; the windows' corrupted inputs must fit it.</param>
    /// <param name="padToken">Fills an input shorter than T (the tokenizer's [PAD]).</param>
    /// <param name="seed">The corruption's seed (the windows' order has its own).</param>
    public SpanBatchLoader(TokenBatchLoader windows, SpanCorruption corruption, int inputLength, int padToken, ulong seed)
    {
        int raw = windows.SequenceLength;
        if (raw < 2)
            throw new ArgumentException($"span corruption needs windows of at least 2 tokens; got {raw}", nameof(windows));
        if (corruption.InputLength(raw) > inputLength)
            throw new ArgumentException($"windows of {raw} tokens corrupt into {corruption.InputLength(raw)} input tokens, more than T = {inputLength}; use windows of {RawLength(corruption, inputLength)}", nameof(inputLength));
        int sentinels = SentinelsNeeded(corruption, raw);
        if (sentinels > corruption.SentinelIds.Count)
            throw new ArgumentException($"windows of {raw} tokens need {sentinels} sentinels; the corruption has {corruption.SentinelIds.Count}", nameof(corruption));
        _windows = windows;
        _corruption = corruption;
        _padToken = padToken;
        _seed = seed;
        SequenceLength = inputLength;
        TargetLength = corruption.TargetLength(raw);
        _window = new int[windows.BatchSize * raw];
        _unused = new int[windows.BatchSize * raw];
    }

    /// <summary>
    /// The longest raw window whose corrupted input (kept tokens, a sentinel per span, the end token: the builder's own
    /// <see cref="SpanCorruption.InputLength"/>, clamps included) fits <paramref name="inputLength"/>; below 2 when not even
    /// the shortest window does. At T5's defaults, 512 input tokens come from 568 raw ones.
    /// </summary>
    public static int RawLength(SpanCorruption corruption, int inputLength)
    {
        if (inputLength < 3 || corruption.InputLength(2) > inputLength) return 1;
        // The input grows by 0, 1 or 2 tokens per raw token (each adds a kept token, or a noise token, perhaps with a
        // new span's sentinel), and by at least one per 1 / (1 - noiseDensity) raw tokens on average, so this ends.
        int raw = 2;
        while (corruption.InputLength(raw + 1) <= inputLength) raw++;
        return raw;
    }

    /// <summary>The sentinels a window of <paramref name="rawLength"/> tokens takes: one per noise span, and the target's final one.</summary>
    public static int SentinelsNeeded(SpanCorruption corruption, int rawLength) =>
        corruption.Counts(rawLength).NoiseSpans + (corruption.FinalSentinel ? 1 : 0);

    public int BatchSize => _windows.BatchSize;

    /// <summary>T: the encoder's input tokens per row.</summary>
    public int SequenceLength { get; }

    /// <summary>The decoder's target tokens per row: <see cref="SpanCorruption.TargetLength"/> of the raw length (115 at T = 512 and T5's defaults).</summary>
    public int TargetLength { get; }

    /// <summary>The raw tokens each row is made from.</summary>
    public int WindowLength => _windows.SequenceLength;

    public SpanCorruption Corruption => _corruption;

    public long BatchesPerEpoch => _windows.BatchesPerEpoch;

    public DataPosition Position => _windows.Position;

    public void Seek(DataPosition position) => _windows.Seek(position);

    public void Reset() => _windows.Reset();

    public IReadOnlyList<TokenShardFingerprint> Fingerprints() => _windows.Fingerprints();

    /// <summary>
    /// Inputs (B×T) are the corrupted windows (kept tokens, a sentinel for each dropped span, the end token, [PAD] to T);
    /// targets (B×TargetLength) each span after its sentinel, the final sentinel and the end token (−1 past them).
    /// </summary>
    public bool Next(Span<int> inputs, Span<int> targets, Span<int> documentStarts)
    {
        int t = SequenceLength, targetLength = TargetLength, raw = WindowLength;
        if (inputs.Length != BatchSize * t || targets.Length != BatchSize * targetLength)
            throw new ArgumentException($"span corruption fills B x T = {BatchSize * t} inputs and B x {targetLength} = {BatchSize * targetLength} targets; got {inputs.Length} and {targets.Length}");
        var position = _windows.Position;
        int firstRow = _windows.Share.FirstRow(BatchSize); // the row's place in the global batch keys its stream
        _windows.Next(_window, _unused); // the raw windows; next-token targets are not this objective's
        for (int row = 0; row < BatchSize; row++)
        {
            Span<int> input = inputs.Slice(row * t, t), target = targets.Slice(row * targetLength, targetLength);
            var (built, labels) = _corruption.Build(_window.AsSpan(row * raw, raw), _seed, position.RowStream(firstRow + row), input, target);
            input[built..].Fill(_padToken); // short of T only when no raw length corrupts into exactly T
            target[labels..].Fill(-1);
        }
        return false;
    }

    public void Dispose() => _windows.Dispose();
}
