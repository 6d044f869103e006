using LmForge.Tokenization.Shards;

namespace LmForge.Training.Data;

/// <summary>
/// Serves batches of B sequences of T+1 consecutive tokens from llm.c token shards as (inputs, next-token targets),
/// both B×T. Sample j of a shard is tokens [j·T, j·T + T + 1). When shuffling (training), every pass over the data
/// visits the shards in a seeded random order and each shard's samples in a seeded random order, so the stream is a
/// pure function of (seed, position): <see cref="Position"/> is all a checkpoint needs to continue it exactly.
/// Without shuffling (validation) samples come in file order. A batch never straddles two shards; leftover samples
/// at a shard's end (fewer than B) are skipped for that pass. Every served token is checked against the vocabulary
/// size, so a shard made with another tokenizer is an error naming the shard, not an out-of-range read in the model.
/// A data-parallel rank serves its <see cref="BatchShare"/> of each global batch of ranks × B samples.
/// </summary>
public sealed class TokenBatchLoader : IBatchSource
{
    readonly TokenShardReader[] _shards;
    readonly int[] _batchesInShard;
    readonly ulong _seed;
    readonly bool _shuffle;
    readonly int _globalBatch;
    int[] _shardOrder;
    readonly int[] _row;
    int[] _sampleOrder = [];
    int _orderedShard = -1, _orderedEpoch = -1;

    public TokenBatchLoader(IReadOnlyList<string> shardPaths, int batchSize, int sequenceLength, int vocabularySize, ulong seed, bool shuffle,
        BatchShare? share = null)
    {
        Share = share ?? BatchShare.Whole;
        Share.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        VocabularySize = vocabularySize;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        _seed = seed;
        _shuffle = shuffle;
        _globalBatch = Share.GlobalBatch(batchSize);
        _row = new int[sequenceLength + 1];
        _shards = new TokenShardReader[shardPaths.Count];
        try
        {
            for (int i = 0; i < _shards.Length; i++) _shards[i] = TokenShardReader.Open(shardPaths[i]);
        }
        catch
        {
            Dispose();
            throw;
        }
        _batchesInShard = _shards.Select(s => (int)Math.Min(int.MaxValue, SamplesIn(s) / _globalBatch)).ToArray();
        BatchesPerEpoch = _batchesInShard.Sum(b => (long)b);
        TokenCount = _shards.Sum(s => s.TokenCount);
        if (BatchesPerEpoch == 0)
        {
            Dispose();
            throw new InvalidDataException(
                $"{shardPaths[0]}{(shardPaths.Count > 1 ? $" (and {shardPaths.Count - 1} more)" : "")}: {TokenCount} tokens, not enough for one batch of " +
                $"{_globalBatch} x ({sequenceLength}+1) tokens in one shard{(Share.Ranks > 1 ? $" ({Share.Ranks} processes x {batchSize})" : "")}; use more text, or a smaller batch size or context length");
        }
        _shardOrder = Enumerable.Range(0, _shards.Length).ToArray();
        Seek(new DataPosition(0, 0, 0));
    }

    public int BatchSize { get; }

    public int SequenceLength { get; }

    /// <summary>The rows of each global batch this loader serves.</summary>
    public BatchShare Share { get; }

    /// <summary>Token ids must be below this (the model's vocabulary size).</summary>
    public int VocabularySize { get; }

    /// <summary>Total tokens in all shards.</summary>
    public long TokenCount { get; }

    /// <summary>Batches in one pass over the data.</summary>
    public long BatchesPerEpoch { get; }

    /// <summary>The next batch to be served.</summary>
    public DataPosition Position { get; private set; }

    public int ShardCount => _shards.Length;

    public string ShardPath(int index) => _shards[index].Path;

    /// <summary>File name and token count of every shard, in order (saved in checkpoints, compared on resume).</summary>
    public IReadOnlyList<TokenShardFingerprint> Fingerprints() =>
        _shards.Select(s => new TokenShardFingerprint(Path.GetFileName(s.Path), s.TokenCount)).ToArray();

    /// <summary>Continues from a saved position (from this loader's <see cref="Position"/> with the same shards, B, T and seed).</summary>
    public void Seek(DataPosition position)
    {
        if (position.Epoch < 0 || position.Shard < 0 || position.Shard >= _shards.Length || position.Batch < 0)
            throw new ArgumentOutOfRangeException(nameof(position), $"data position {position} is outside {_shards.Length} shard(s)");
        Position = position;
        _orderedShard = -1;
        SkipExhaustedShards();
    }

    /// <summary>Back to the start of the first pass (validation does this before every evaluation).</summary>
    public void Reset() => Seek(new DataPosition(0, 0, 0));

    /// <summary>Every row is one stretch of a shard: fills inputs and targets, never document starts, and returns false.</summary>
    bool IBatchSource.Next(Span<int> inputs, Span<int> targets, Span<int> documentStarts)
    {
        Next(inputs, targets);
        return false;
    }

    /// <summary>Fills <paramref name="inputs"/> and <paramref name="targets"/> (each B×T, row-major) and advances.</summary>
    public void Next(Span<int> inputs, Span<int> targets)
    {
        int tokens = BatchSize * SequenceLength;
        if (inputs.Length != tokens || targets.Length != tokens)
            throw new ArgumentException($"inputs and targets must hold B x T = {tokens} tokens, got {inputs.Length} and {targets.Length}");
        EnsureOrders();
        var position = Position;
        var shard = _shards[_shardOrder[position.Shard]];
        Span<int> row = _row;
        for (int b = 0; b < BatchSize; b++)
        {
            int sample = _sampleOrder[position.Batch * _globalBatch + Share.FirstRow(BatchSize) + b];
            long offset = (long)sample * SequenceLength;
            shard.Read(offset, row);
            CheckVocabulary(shard.Path, offset, row);
            row[..SequenceLength].CopyTo(inputs.Slice(b * SequenceLength, SequenceLength));
            row[1..].CopyTo(targets.Slice(b * SequenceLength, SequenceLength));
        }
        Position = position with { Batch = position.Batch + 1 };
        SkipExhaustedShards();
    }

    void CheckVocabulary(string shardPath, long offset, ReadOnlySpan<int> tokens)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)VocabularySize)
                ThrowOutsideVocabulary(shardPath, (uint)tokens[i], offset + i, VocabularySize);
        }
    }

    static void ThrowOutsideVocabulary(string shardPath, uint token, long position, int vocabularySize) =>
        throw new InvalidDataException(
            $"{shardPath}: token {token} at position {position} is outside the vocabulary ({vocabularySize}); the shard was made with another tokenizer");

    long SamplesIn(TokenShardReader shard) => shard.TokenCount <= 1 ? 0 : (shard.TokenCount - 1) / SequenceLength;

    void SkipExhaustedShards()
    {
        var position = Position;
        EnsureOrders();
        while (position.Batch >= _batchesInShard[_shardOrder[position.Shard]])
        {
            position = position.Shard + 1 < _shards.Length
                ? new DataPosition(position.Epoch, position.Shard + 1, 0)
                : new DataPosition(position.Epoch + 1, 0, 0);
            Position = position;
            EnsureOrders();
        }
    }

    void EnsureOrders()
    {
        var position = Position;
        if (position.Epoch != _orderedEpoch)
        {
            _shardOrder = Enumerable.Range(0, _shards.Length).ToArray();
            if (_shuffle) CounterRandom.Derive(_seed, (ulong)position.Epoch << 32).Shuffle(_shardOrder);
            _orderedEpoch = position.Epoch;
            _orderedShard = -1;
        }
        int shardIndex = _shardOrder[position.Shard];
        if (shardIndex != _orderedShard)
        {
            _sampleOrder = Enumerable.Range(0, (int)Math.Min(int.MaxValue, SamplesIn(_shards[shardIndex]))).ToArray();
            if (_shuffle) CounterRandom.Derive(_seed, ((ulong)position.Epoch << 32) | (uint)(shardIndex + 1)).Shuffle(_sampleOrder);
            _orderedShard = shardIndex;
        }
    }

    public void Dispose()
    {
        foreach (var shard in _shards) shard?.Dispose();
    }
}
