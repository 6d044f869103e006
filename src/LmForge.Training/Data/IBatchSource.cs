namespace LmForge.Training.Data;

/// <summary>
/// Where the trainer's batches come from: B×T inputs and next-token targets (−1: no loss), served in an order that
/// is a pure function of the seed and <see cref="Position"/>, so a checkpoint's position is all a resumed run needs.
/// Pretraining reads token shards (<see cref="TokenBatchLoader"/>); fine-tuning reads packed conversations
/// (<see cref="ChatBatchLoader"/>), whose rows also carry where each conversation starts. Masked LM
/// (<see cref="MaskedBatchLoader"/>) has one target per input token; span corruption (<see cref="SpanBatchLoader"/>)
/// has <see cref="TargetLength"/> targets per row, the decoder's side of an encoder-decoder.
/// </summary>
public interface IBatchSource : IDisposable
{
    int BatchSize { get; }

    int SequenceLength { get; }

    /// <summary>Targets per row: <see cref="SequenceLength"/> (one per input token) unless the objective says otherwise.</summary>
    int TargetLength => SequenceLength;

    /// <summary>Batches in one pass over the data.</summary>
    long BatchesPerEpoch { get; }

    /// <summary>The next batch to be served.</summary>
    DataPosition Position { get; }

    /// <summary>Continues from a saved position (from this source's <see cref="Position"/> with the same data, B, T and seed).</summary>
    void Seek(DataPosition position);

    /// <summary>Back to the start of the first pass.</summary>
    void Reset();

    /// <summary>
    /// Fills inputs (B×T) and targets (B×<see cref="TargetLength"/>) and advances. Returns true when rows pack several documents: then
    /// <paramref name="documentStarts"/> (B×T) holds, for each token, the index in its row where its document starts;
    /// false leaves it untouched (every row is one stretch of text).
    /// </summary>
    bool Next(Span<int> inputs, Span<int> targets, Span<int> documentStarts);

    /// <summary>What the data is (file names and sizes), saved in checkpoints and compared on resume.</summary>
    IReadOnlyList<TokenShardFingerprint> Fingerprints();
}
