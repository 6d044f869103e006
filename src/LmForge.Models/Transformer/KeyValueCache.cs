using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>
/// The keys and values a transformer computed for the tokens it has seen, kept so that each new token costs one
/// position's work instead of the whole context's: per layer, a key and a value tensor of (slots, capacity, NKV·hs).
/// A slot holds one sequence by position; a caller (an inference session) assigns slots to sequences, which may join
/// and leave between steps. The cache also owns the scratch of <see cref="TransformerModel.ForwardCached"/>, so
/// several caches can run on one shared model from several threads at once. Made by <see cref="TransformerModel.CreateCache"/>.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly IBackend _backend;
    private readonly TransformerModel _model;
    private readonly List<Tensor> _scratchBuffers = [];
    private (int Rows, int LogitRows, DecodeScratch Scratch)? _lastScratch;
    private int _rowCapacity, _logitRowCapacity;
    private Tensor? _rowsBuffer, _wideBuffer, _upBuffer, _intBuffer, _logitsBuffer, _gatherBuffer;

    internal KeyValueCache(TransformerModel model, int slots, int capacity)
    {
        var config = model.Config;
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), $"a cache needs at least 1 slot, got {slots}");
        if (capacity < 1 || capacity > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"cache capacity {capacity} is outside [1, {config.ContextLength}] (the model's context length)");
        _model = model;
        _backend = model.Backend;
        Slots = slots;
        Capacity = capacity;
        int kvWidth = config.KeyValueHeadCount * config.HeadSize;
        Keys = new Tensor[config.LayerCount];
        Values = new Tensor[config.LayerCount];
        try
        {
            for (int l = 0; l < config.LayerCount; l++)
            {
                Keys[l] = _backend.Allocate(new TensorShape(slots, capacity, kvWidth));
                Values[l] = _backend.Allocate(new TensorShape(slots, capacity, kvWidth));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        BytesPerToken = 2L * config.LayerCount * kvWidth * sizeof(float);
    }

    /// <summary>How many sequences the cache holds at once.</summary>
    public int Slots { get; }

    /// <summary>Positions per slot: the longest sequence (prompt and generated tokens) a slot can hold.</summary>
    public int Capacity { get; }

    /// <summary>Cache memory per token of a sequence: 2 (keys and values) × layers × key/value heads × head size × 4 bytes.</summary>
    public long BytesPerToken { get; }

    /// <summary>All cache memory: <see cref="BytesPerToken"/> × slots × capacity.</summary>
    public long Bytes => BytesPerToken * Slots * Capacity;

    internal Tensor[] Keys { get; }    // per layer (slots, capacity, NKV·hs)
    internal Tensor[] Values { get; }  // per layer (slots, capacity, NKV·hs)

    internal TransformerModel Model => _model;

    /// <summary>Views for a step of <paramref name="rows"/> new tokens of which <paramref name="logitRows"/> want logits; buffers grow as needed.</summary>
    internal DecodeScratch Scratch(int rows, int logitRows)
    {
        if (_lastScratch is { } last && last.Rows == rows && last.LogitRows == logitRows) return last.Scratch;
        var config = _model.Config;
        var attention = _model.AttentionLayout;
        int c = config.Width, heads = attention.HeadCount * attention.HeadSize;
        int up = config.GatedMlp ? 2 * config.IntermediateSize : config.IntermediateSize;
        if (rows > _rowCapacity || logitRows > _logitRowCapacity)
        {
            FreeScratch();
            _rowCapacity = Math.Max(rows, 2 * _rowCapacity);
            _logitRowCapacity = Math.Max(logitRows, 2 * _logitRowCapacity);
            _rowsBuffer = Keep(_backend.Allocate(new TensorShape(_rowCapacity, 4 * c + heads + 2)));
            _wideBuffer = Keep(_backend.Allocate(new TensorShape(_rowCapacity, attention.FusedWidth)));
            _upBuffer = Keep(_backend.Allocate(new TensorShape(_rowCapacity, up + config.IntermediateSize)));
            _intBuffer = Keep(_backend.Allocate(new TensorShape(3 * _rowCapacity + _logitRowCapacity), TensorElementType.Int32));
            _gatherBuffer = Keep(_backend.Allocate(new TensorShape(_logitRowCapacity, c)));
            _logitsBuffer = Keep(_backend.Allocate(new TensorShape(_logitRowCapacity, config.PaddedVocabSize)));
        }
        long n = rows;
        Tensor Rows(int index, int width) => _rowsBuffer!.Slice(index * n * c, new TensorShape(rows, width));
        var scratch = new DecodeScratch(
            Residual: Rows(0, c), Normed: Rows(1, c), Sum: Rows(2, c), Projection: Rows(3, c),
            Heads: _rowsBuffer!.Slice(4 * n * c, new TensorShape(rows, heads)),
            Statistics: new NormStatistics(_rowsBuffer.Slice((4 * n * c) + (n * heads), new TensorShape(rows)),
                _rowsBuffer.Slice((4 * n * c) + (n * heads) + n, new TensorShape(rows))),
            Qkv: _wideBuffer!.Slice(0, new TensorShape(rows, attention.FusedWidth)),
            Mlp: new Mlp.Activations(_upBuffer!.Slice(0, new TensorShape(rows, up)), _upBuffer.Slice(n * up, new TensorShape(rows, config.IntermediateSize))),
            Tokens: _intBuffer!.Slice(0, new TensorShape(rows)),
            Slots: _intBuffer.Slice(n, new TensorShape(rows)),
            Positions: _intBuffer.Slice(2 * n, new TensorShape(rows)),
            LogitRows: _intBuffer.Slice(3 * n, new TensorShape(logitRows)),
            Gathered: _gatherBuffer!.Slice(0, new TensorShape(logitRows, c)),
            Logits: _logitsBuffer!.Slice(0, new TensorShape(logitRows, config.PaddedVocabSize)));
        _lastScratch = (rows, logitRows, scratch);
        return scratch;
    }

    private Tensor Keep(Tensor tensor)
    {
        _scratchBuffers.Add(tensor);
        return tensor;
    }

    private void FreeScratch()
    {
        foreach (var buffer in _scratchBuffers) buffer.Dispose();
        _scratchBuffers.Clear();
        _lastScratch = null;
    }

    public void Dispose()
    {
        FreeScratch();
        foreach (var tensor in Keys) tensor?.Dispose();
        foreach (var tensor in Values) tensor?.Dispose();
    }
}

/// <summary>One cached step's activations: nothing is kept after the step but the keys and values in the cache.</summary>
internal sealed record DecodeScratch(
    Tensor Residual,              // (N,C): the residual stream of the new rows, updated in place layer by layer
    Tensor Normed,                // (N,C): a norm's output (pre-norm) 
    Tensor Sum,                   // (N,C): x + f(x) before a post-norm
    Tensor Projection,            // (N,C): an attention or MLP output
    Tensor Heads,                 // (N,NH·hs)
    NormStatistics Statistics,    // (N) each
    Tensor Qkv,                   // (N,(NH+2·NKV)·hs)
    Mlp.Activations Mlp,          // (N,I or 2·I), (N,I)
    Tensor Tokens,                // Int32 (N)
    Tensor Slots,                 // Int32 (N)
    Tensor Positions,             // Int32 (N)
    Tensor LogitRows,             // Int32 (M): which rows get logits
    Tensor Gathered,              // (M,C): their final hidden states
    Tensor Logits);               // (M,Vp)
