using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>
/// One stack's saved activations and scratch at (B,T): the residual stream before and after each layer, each layer's
/// activations, the final norm's output, the relative position bias, and the attention context its layers share.
/// </summary>
internal sealed class StackActivations
{
    public StackActivations(IBackend backend, ActivationAllocator allocate, EncoderDecoderModel.Stack stack, int b, int t, int c, int memoryLength,
        Tensor positions, Tensor? keyMask, CrossAttentionContext? cross)
    {
        Residuals = new Tensor[stack.Blocks.Length + 1];
        for (int i = 0; i < Residuals.Length; i++) Residuals[i] = allocate.Float(b, t, c);
        Blocks = new TransformerBlock.Activations[stack.Blocks.Length];
        for (int i = 0; i < Blocks.Length; i++) Blocks[i] = stack.Blocks[i].Plan(allocate, b, t, c, memoryLength);
        Output = allocate.Float(b, t, c);
        OutputStatistics = stack.FinalNorm.PlanStatistics(allocate, b, t);
        Bias = stack.Bias.Plan(backend, allocate, t, t);
        Scratch = TransformerScratch.Plan(allocate, stack.Blocks[0], b, t, c);
        Context = new AttentionContext(positions, KeyMask: keyMask, PositionBias: Bias.Bias, PositionBiasGrad: Bias.BiasGrad, Cross: cross);
    }

    public Tensor[] Residuals { get; }                       // L+1 × (B,T,C): [0] the embedding, [i+1] layer i's output
    public TransformerBlock.Activations[] Blocks { get; }
    public Tensor Output { get; }                            // (B,T,C): the final norm's output
    public NormStatistics OutputStatistics { get; }
    public RelativePositionBias.Activations Bias { get; }
    public TransformerScratch Scratch { get; }
    public AttentionContext Context { get; }
}

/// <summary>
/// Everything a training forward and backward of an encoder-decoder at (B, input length Te, target length Td) needs,
/// allocated once and reused: the ids, both stacks' activations, the cross-attention's gradient buffers, the head.
/// </summary>
internal sealed class EncoderDecoderActivations : IDisposable
{
    private readonly ActivationAllocator _allocate;

    public EncoderDecoderActivations(EncoderDecoderModel model, int batchSize, int inputLength, int targetLength)
    {
        var config = model.Config;
        var backend = model.Backend;
        _allocate = new ActivationAllocator(backend);
        BatchSize = batchSize;
        InputLength = inputLength;
        TargetLength = targetLength;
        int b = batchSize, te = inputLength, td = targetLength, c = config.Width;
        try
        {
            Inputs = _allocate.Int32(b * te);
            DecoderInputs = _allocate.Int32(b * td);
            Targets = _allocate.Int32(b * td);
            HostDecoderInputs = new int[b * td];
            // T5 has no absolute positions; the contexts carry a zero tensor for the modules that would read them
            var positions = _allocate.Int32(b * Math.Max(te, td));
            backend.CopyFromHost(positions, new int[positions.Length]);
            Encoder = new StackActivations(backend, _allocate, model.Encoder, b, te, c, 0, positions.Slice(0, new TensorShape(b * te)), null, null);
            var cross = model.Decoder.Blocks[0].Cross!.Layout;
            var crossContext = new CrossAttentionContext(Encoder.Output, null,
                MemoryGrad: _allocate.Float(b, te, c), LayerMemoryGrad: _allocate.Float(b, te, c),
                QueryGrad: _allocate.Float(b, td, cross.HeadCount * cross.HeadSize), KeyValueGrad: _allocate.Float(b, te, 2 * cross.KeyValueHeadCount * cross.HeadSize));
            Decoder = new StackActivations(backend, _allocate, model.Decoder, b, td, c, te, positions.Slice(0, new TensorShape(b * td)), null, crossContext);
            HeadInput = config.TiedEmbeddings ? _allocate.Float(b, td, c) : Decoder.Output;
            Logits = _allocate.Float(b, td, config.PaddedVocabSize);
            Losses = _allocate.Float(b, td);
            Predictions = _allocate.Int32(b * td);
        }
        catch
        {
            _allocate.Dispose();
            throw;
        }
    }

    public int BatchSize { get; }
    public int InputLength { get; }
    public int TargetLength { get; }
    public Tensor Inputs { get; }          // Int32 (B·Te)
    public Tensor DecoderInputs { get; }   // Int32 (B·Td): the targets shifted right behind the decoder start token
    public Tensor Targets { get; }         // Int32 (B·Td), −1 = ignored
    public int[] HostDecoderInputs { get; }
    public StackActivations Encoder { get; }
    public StackActivations Decoder { get; }
    public Tensor HeadInput { get; }       // (B,Td,C): the decoder's output, scaled by 1/√C for a tied head
    public Tensor Logits { get; }          // (B,Td,Vp); the backward overwrites it with its gradient
    public Tensor Losses { get; }          // (B,Td)
    public Tensor Predictions { get; }     // Int32 (B·Td): each target position's most likely token, on request

    public void Dispose() => _allocate.Dispose();
}
