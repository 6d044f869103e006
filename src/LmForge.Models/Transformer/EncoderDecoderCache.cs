using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>
/// Decoding state of an <see cref="EncoderDecoderModel"/> for B inputs decoded in lockstep: <see cref="Encode"/> runs the
/// encoder once and projects every decoder layer's cross-attention keys and values from its output once; each
/// <see cref="Decode"/> step then runs one new token per input through the decoder against a KV cache of its own
/// earlier tokens (with T5's causal relative position bias by distance) and those projected keys and values. Inference
/// only: reads the parameters, so several caches may share one model. Made by <see cref="EncoderDecoderModel.CreateCache"/>.
/// </summary>
public sealed class EncoderDecoderCache : IDisposable
{
    private readonly EncoderDecoderModel _model;
    private readonly IBackend _backend;
    private readonly ActivationAllocator _allocate;
    private readonly StackActivations _encoder;
    private readonly Tensor _inputs, _keyMask, _distanceBias;
    private readonly Tensor[] _keys, _values, _crossKeyValues;
    private readonly CrossDecodeStep[] _crossSteps;
    private readonly DecodeScratch _step;
    private readonly int[] _stepPositions;
    private int _position = -1;

    internal EncoderDecoderCache(EncoderDecoderModel model, int batchSize, int inputLength, int maxTargetLength)
    {
        var config = model.Config;
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be >= 1, got {batchSize}");
        if (inputLength < 1 || inputLength > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(inputLength), $"input length {inputLength} is outside [1, {config.ContextLength}] (the model's context length)");
        if (maxTargetLength < 1 || maxTargetLength > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(maxTargetLength), $"target length {maxTargetLength} is outside [1, {config.ContextLength}] (the model's context length)");
        _model = model;
        _backend = model.Backend;
        _allocate = new ActivationAllocator(_backend);
        BatchSize = batchSize;
        InputLength = inputLength;
        Capacity = maxTargetLength;
        int b = batchSize, c = config.Width, hs = config.HeadSize, nh = config.HeadCount, kv = config.KeyValueHeadCount * hs;
        try
        {
            _inputs = _allocate.Int32(b * inputLength);
            _keyMask = _allocate.Int32(b, inputLength);
            var positions = _allocate.Int32(b * inputLength);
            _backend.CopyFromHost(positions, new int[b * inputLength]);
            _encoder = new StackActivations(_backend, _allocate, model.Encoder, b, inputLength, c, 0, positions, _keyMask, null);

            var attention = model.Decoder.Blocks[0].Attention.Layout;
            var mlp = model.Decoder.Blocks[0].Mlp;
            var slots = _allocate.Int32(b);
            _backend.CopyFromHost(slots, Enumerable.Range(0, b).ToArray());
            _step = new DecodeScratch(
                Residual: _allocate.Float(b, c), Normed: _allocate.Float(b, c), Sum: _allocate.Float(b, c), Projection: _allocate.Float(b, c),
                Heads: _allocate.Float(b, nh * hs), Statistics: new NormStatistics(null, _allocate.Float(b)),
                Qkv: _allocate.Float(b, attention.FusedWidth),
                Mlp: new Mlp.Activations(_allocate.Float(b, mlp.UpWidth), _allocate.Float(b, mlp.HiddenWidth)),
                Tokens: _allocate.Int32(b), Slots: slots, Positions: _allocate.Int32(b), LogitRows: _allocate.Int32(b),
                Gathered: _allocate.Float(b, c), Logits: _allocate.Float(b, config.PaddedVocabSize));

            int layers = config.DecoderLayerCount;
            _keys = new Tensor[layers];
            _values = new Tensor[layers];
            _crossKeyValues = new Tensor[layers];
            _crossSteps = new CrossDecodeStep[layers];
            var query = _allocate.Float(b, 1, nh * hs);
            var heads = _allocate.Float(b, 1, nh * hs);
            var logSumExp = _allocate.Float(b, nh, 1);
            var output = _allocate.Float(b, 1, c);
            var crossInput = _step.Normed.Slice(0, new TensorShape(b, 1, c)); // the cross norm's output rows, as attention reads them
            for (int l = 0; l < layers; l++)
            {
                _keys[l] = _allocate.Float(b, maxTargetLength, kv);
                _values[l] = _allocate.Float(b, maxTargetLength, kv);
                _crossKeyValues[l] = _allocate.Float(b, inputLength, 2 * kv);
                _crossSteps[l] = new CrossDecodeStep(_crossKeyValues[l], _keyMask, query, heads, logSumExp, output, crossInput);
            }
            _distanceBias = _allocate.Float(nh, maxTargetLength);
            _backend.CopyFromHost(_distanceBias, model.Decoder.Bias.DistanceBias(_backend, maxTargetLength));

            _stepPositions = new int[b];
        }
        catch
        {
            _allocate.Dispose();
            throw;
        }
    }

    public int BatchSize { get; }

    /// <summary>The longest input (tokens, its end token included) the cache encodes.</summary>
    public int InputLength { get; }

    /// <summary>The most tokens each input's decoder can read (the start token and the tokens decoded after it).</summary>
    public int Capacity { get; }

    /// <summary>
    /// Encodes B inputs: inputs (B × InputLength, row-major), row b's first lengths[b] tokens real and the rest padding
    /// (hidden from every attention). Resets the decoder to position 0.
    /// </summary>
    public void Encode(ReadOnlySpan<int> inputs, ReadOnlySpan<int> lengths)
    {
        if (inputs.Length != BatchSize * InputLength)
            throw new ArgumentException($"got {inputs.Length} input tokens, expected {BatchSize} inputs × {InputLength} tokens", nameof(inputs));
        if (lengths.Length != BatchSize) throw new ArgumentException($"got {lengths.Length} lengths for {BatchSize} inputs", nameof(lengths));
        _model.CheckIds(inputs, nameof(inputs), allowIgnore: false);
        var mask = new int[BatchSize * InputLength];
        for (int b = 0; b < BatchSize; b++)
        {
            if (lengths[b] < 1 || lengths[b] > InputLength)
                throw new ArgumentOutOfRangeException(nameof(lengths), $"lengths[{b}] = {lengths[b]} is outside [1, {InputLength}]");
            mask.AsSpan(b * InputLength, lengths[b]).Fill(1);
        }
        _backend.CopyFromHost(_inputs, inputs);
        _backend.CopyFromHost(_keyMask, mask);
        _model.RunStack(_model.Encoder, _encoder, _inputs);
        var blocks = _model.Decoder.Blocks;
        for (int l = 0; l < blocks.Length; l++) blocks[l].Cross!.ProjectMemory(_backend, _crossKeyValues[l], _encoder.Output);
        _position = 0;
    }

    /// <summary>
    /// Runs one decoder step: tokens[b] (B) is input b's next decoder token (the model's decoder start token first),
    /// and logits (B × V, row-major) receive each input's next-token logits. Steps go up to <see cref="Capacity"/>.
    /// </summary>
    public void Decode(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        var config = _model.Config;
        int v = config.VocabSize;
        if (_position < 0) throw new InvalidOperationException("Decode needs Encode first");
        if (_position >= Capacity) throw new InvalidOperationException($"the cache holds {Capacity} decoder positions and all are used");
        if (tokens.Length != BatchSize) throw new ArgumentException($"got {tokens.Length} tokens for {BatchSize} inputs", nameof(tokens));
        if (logits.Length != BatchSize * v) throw new ArgumentException($"logits holds {logits.Length} floats, expected {BatchSize} × vocabulary {v}", nameof(logits));
        _model.CheckIds(tokens, nameof(tokens), allowIgnore: false);
        var s = _step;
        Array.Fill(_stepPositions, _position);
        _backend.CopyFromHost(s.Tokens, tokens);
        _backend.CopyFromHost(s.Positions, _stepPositions);
        _model.Embedding.Forward(_backend, s.Residual, s.Tokens, accumulate: false);
        var blocks = _model.Decoder.Blocks;
        for (int l = 0; l < blocks.Length; l++) blocks[l].ForwardCached(_backend, s, _keys[l], _values[l], _distanceBias, _crossSteps[l]);
        _model.Decoder.FinalNorm.Forward(_backend, s.Normed, s.Statistics, s.Residual);
        var headInput = s.Normed;
        if (_model.HeadScale != 1f)
        {
            _backend.Scale(s.Gathered, s.Normed, _model.HeadScale);
            headInput = s.Gathered;
        }
        _backend.LinearForward(s.Logits, headInput, _model.HeadWeight, null);
        int vp = config.PaddedVocabSize;
        for (int b = 0; b < BatchSize; b++) _backend.CopyToHost(s.Logits.Slice((long)b * vp, new TensorShape(v)), logits.Slice(b * v, v));
        _position++;
    }

    /// <summary>The decoder position the next <see cref="Decode"/> fills (0 after <see cref="Encode"/>).</summary>
    public int Position => _position;

    public void Dispose() => _allocate.Dispose();
}
