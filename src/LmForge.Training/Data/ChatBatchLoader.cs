using LmForge.Training.PostTraining;

namespace LmForge.Training.Data;

/// <summary>
/// Serves batches of B packed conversation rows (<see cref="PackedChatRows"/>) for fine-tuning, with each token's
/// document start. When shuffling, every pass visits the rows in a seeded random order, so the stream is a pure
/// function of (seed, position); rows left over at the end of a pass (fewer than B) wait for the next one. For
/// validation (<c>wholePasses</c>) every row is served each pass, the last batch filled up with padding rows that
/// carry no loss. A data-parallel rank serves its <see cref="BatchShare"/> of each global batch of ranks × B rows.
/// </summary>
public sealed class ChatBatchLoader : IBatchSource
{
    private readonly PackedChatRows _rows;
    private readonly string _name;
    private readonly ulong _seed;
    private readonly bool _shuffle;
    private readonly bool _wholePasses;
    private int[] _order = [];
    private int _orderedEpoch = -1;
    private readonly BatchShare _share;
    private readonly int _globalBatch;

    public ChatBatchLoader(PackedChatRows rows, string name, int batchSize, ulong seed, bool shuffle, bool wholePasses = false, BatchShare? share = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _share = share ?? BatchShare.Whole;
        _share.Validate();
        _globalBatch = _share.GlobalBatch(batchSize);
        if (rows.Count < _globalBatch && !(wholePasses && rows.Count > 0))
            throw new InvalidDataException($"{name}: {rows.Count} packed row(s) of {rows.RowLength} tokens, not enough for one batch of {_globalBatch}{(_share.Ranks > 1 ? $" ({_share.Ranks} processes x {batchSize})" : "")}; use more conversations or a smaller micro-batch");
        _rows = rows;
        _name = name;
        _seed = seed;
        _shuffle = shuffle;
        _wholePasses = wholePasses;
        BatchSize = batchSize;
        BatchesPerEpoch = wholePasses ? (rows.Count + _globalBatch - 1) / _globalBatch : rows.Count / _globalBatch;
    }

    public int BatchSize { get; }

    public int SequenceLength => _rows.RowLength;

    public long BatchesPerEpoch { get; }

    public DataPosition Position { get; private set; }

    public IReadOnlyList<TokenShardFingerprint> Fingerprints() => [new TokenShardFingerprint(_name, _rows.Tokens)];

    public void Seek(DataPosition position)
    {
        if (position.Epoch < 0 || position.Shard != 0 || position.Batch < 0 || position.Batch >= BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(position), $"data position {position} is outside {_name}'s {BatchesPerEpoch} batches");
        Position = position;
    }

    public void Reset() => Seek(new DataPosition(0, 0, 0));

    public bool Next(Span<int> inputs, Span<int> targets, Span<int> documentStarts)
    {
        int t = SequenceLength, tokens = BatchSize * t;
        if (inputs.Length != tokens || targets.Length != tokens || documentStarts.Length != tokens)
            throw new ArgumentException($"inputs, targets and document starts must hold B x T = {tokens} tokens, got {inputs.Length}, {targets.Length} and {documentStarts.Length}");
        var position = Position;
        if (position.Epoch != _orderedEpoch)
        {
            _order = Enumerable.Range(0, _rows.Count).ToArray();
            if (_shuffle) CounterRandom.Derive(_seed, (ulong)position.Epoch << 32).Shuffle(_order);
            _orderedEpoch = position.Epoch;
        }
        for (int b = 0; b < BatchSize; b++)
        {
            int index = position.Batch * _globalBatch + _share.FirstRow(BatchSize) + b;
            if (index >= _order.Length)
            {
                inputs.Slice(b * t, t).Fill(_rows.PaddingToken);
                targets.Slice(b * t, t).Fill(-1);
                documentStarts.Slice(b * t, t).Clear();
                continue;
            }
            int row = _order[index];
            _rows.Inputs(row).CopyTo(inputs.Slice(b * t, t));
            _rows.Targets(row).CopyTo(targets.Slice(b * t, t));
            _rows.DocumentStarts(row).CopyTo(documentStarts.Slice(b * t, t));
        }
        Position = position.Batch + 1 < BatchesPerEpoch ? position with { Batch = position.Batch + 1 } : new DataPosition(position.Epoch + 1, 0, 0);
        return true;
    }

    public void Dispose()
    {
    }
}
