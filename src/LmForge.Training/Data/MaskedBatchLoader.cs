using LmForge.Training.Objectives;

namespace LmForge.Training.Data;

/// <summary>
/// Masked-LM batches (BERT's objective with RoBERTa's dynamic masking) over token shards: the windows of a
/// <see cref="TokenBatchLoader"/>, each masked by <see cref="MaskedLanguageModeling"/> with a random stream drawn from
/// the window's data position (epoch, shard, batch) and row, so a window served again in a later epoch gets a fresh
/// mask, and a resumed run (which seeks to the saved position) masks exactly as the uninterrupted one.
/// </summary>
public sealed class MaskedBatchLoader(TokenBatchLoader windows, MaskedLanguageModeling masking, ulong seed) : IBatchSource
{
    private readonly int[] _window = new int[windows.BatchSize * windows.SequenceLength];
    private readonly int[] _unused = new int[windows.BatchSize * windows.SequenceLength];

    public int BatchSize => windows.BatchSize;

    public int SequenceLength => windows.SequenceLength;

    public long BatchesPerEpoch => windows.BatchesPerEpoch;

    public DataPosition Position => windows.Position;

    public void Seek(DataPosition position) => windows.Seek(position);

    public void Reset() => windows.Reset();

    public IReadOnlyList<TokenShardFingerprint> Fingerprints() => windows.Fingerprints();

    /// <summary>Inputs are the masked windows; targets the original tokens at the chosen positions and −1 elsewhere.</summary>
    public bool Next(Span<int> inputs, Span<int> targets, Span<int> documentStarts)
    {
        var position = windows.Position;
        int firstRow = windows.Share.FirstRow(BatchSize); // the row's place in the global batch keys its stream
        windows.Next(_window, _unused); // the window's tokens; next-token targets are not this objective's
        int t = SequenceLength;
        for (int row = 0; row < BatchSize; row++)
            masking.Build(_window.AsSpan(row * t, t), seed, position.RowStream(firstRow + row), inputs.Slice(row * t, t), targets.Slice(row * t, t));
        return false;
    }

    public void Dispose() => windows.Dispose();
}
