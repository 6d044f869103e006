using LmForge.Tensors;

namespace LmForge.Models.Gpt;

/// <summary>
/// Everything a forward and backward pass of one (batch, sequence length) needs, carved once out of one buffer and
/// reused every step. Forward activations are kept per layer for the backward; backward scratch is shared by all layers.
/// The buffer belongs to the model, which keeps it while shapes fit (e.g. a growing sequence during generation).
/// </summary>
internal sealed class GptActivations
{
    private readonly NativeBuffer _buffer;
    private long _next;

    /// <summary>4-byte elements (floats, and the int32 tokens, targets and positions) needed for one (batch, sequence length).</summary>
    public static long RequiredLength(GptConfig config, int batchSize, int tokenCount)
    {
        int c = config.Width, l = config.LayerCount, nh = config.HeadCount;
        long bt = (long)batchSize * tokenCount;
        long perLayer = (bt * c * 4) + (bt * 3 * c) + (bt * 4 * c * 2) + (bt * 4) + ((long)batchSize * nh * tokenCount);
        long ids = bt * 3; // int32 tokens, targets, positions
        return (bt * c * 4) + (bt * 4 * c) + (bt * config.PaddedVocabSize) + (bt * 3) + ids + ((l + 1) * bt * c) + (l * perLayer);
    }

    public GptActivations(GptConfig config, int batchSize, int tokenCount, NativeBuffer buffer)
    {
        BatchSize = batchSize;
        TokenCount = tokenCount;
        int b = batchSize, t = tokenCount, c = config.Width, l = config.LayerCount, nh = config.HeadCount;
        long bt = (long)b * t;
        _buffer = buffer;

        Residuals = new Tensor[l + 1];
        for (int i = 0; i <= l; i++) Residuals[i] = Take(b, t, c);
        Norm1 = new Tensor[l]; Norm1Mean = new Tensor[l]; Norm1Rstd = new Tensor[l];
        Qkv = new Tensor[l]; AttentionOutput = new Tensor[l]; AttentionLse = new Tensor[l];
        Residual2 = new Tensor[l];
        Norm2 = new Tensor[l]; Norm2Mean = new Tensor[l]; Norm2Rstd = new Tensor[l];
        Fc = new Tensor[l]; FcGelu = new Tensor[l];
        for (int i = 0; i < l; i++)
        {
            Norm1[i] = Take(b, t, c); Norm1Mean[i] = Take(b, t); Norm1Rstd[i] = Take(b, t);
            Qkv[i] = Take(b, t, 3 * c); AttentionOutput[i] = Take(b, t, c); AttentionLse[i] = Take(b, nh, t);
            Residual2[i] = Take(b, t, c);
            Norm2[i] = Take(b, t, c); Norm2Mean[i] = Take(b, t); Norm2Rstd[i] = Take(b, t);
            Fc[i] = Take(b, t, 4 * c); FcGelu[i] = Take(b, t, 4 * c);
        }
        FinalNorm = Take(b, t, c); FinalNormMean = Take(b, t); FinalNormRstd = Take(b, t);
        Logits = Take(b, t, config.PaddedVocabSize);
        Losses = Take(b, t);
        Projection = Take(b, t, c);
        ResidualGrad = Take(b, t, c);
        NormGrad = Take(b, t, c);
        Wide = Take(b, t, 4 * c);
        WideGrad = Tensor.View(_buffer, Wide.Offset, new TensorShape(b, t, 4 * c));
        QkvGrad = Tensor.View(_buffer, Wide.Offset, new TensorShape(b, t, 3 * c));
        Tokens = TakeInt32(b, t);
        Targets = TakeInt32(b, t);
        Positions = TakeInt32(b, t);
        var positions = Positions.AsInt32Span();
        for (int i = 0; i < positions.Length; i++) positions[i] = i % t;
    }

    public int BatchSize { get; }
    public int TokenCount { get; }

    // forward, kept for backward
    public Tensor[] Residuals { get; }      // L+1 × (B,T,C): [0] is the embedding, [i+1] the output of layer i
    public Tensor[] Norm1 { get; }          // (B,T,C)
    public Tensor[] Norm1Mean { get; }      // (B,T)
    public Tensor[] Norm1Rstd { get; }      // (B,T)
    public Tensor[] Qkv { get; }            // (B,T,3C)
    public Tensor[] AttentionOutput { get; } // (B,T,C)
    public Tensor[] AttentionLse { get; }   // (B,NH,T)
    public Tensor[] Residual2 { get; }      // (B,T,C)
    public Tensor[] Norm2 { get; }          // (B,T,C)
    public Tensor[] Norm2Mean { get; }      // (B,T)
    public Tensor[] Norm2Rstd { get; }      // (B,T)
    public Tensor[] Fc { get; }             // (B,T,4C)
    public Tensor[] FcGelu { get; }         // (B,T,4C)
    public Tensor FinalNorm { get; }        // (B,T,C)
    public Tensor FinalNormMean { get; }    // (B,T)
    public Tensor FinalNormRstd { get; }    // (B,T)
    public Tensor Logits { get; }           // (B,T,Vp); the backward overwrites it with dlogits
    public Tensor Losses { get; }           // (B,T)
    public Tensor Tokens { get; }           // int32 (B,T), copied from the caller once per forward
    public Tensor Targets { get; }          // int32 (B,T)
    public Tensor Positions { get; }        // int32 (B,T): 0..T−1 in every row, filled when the plan is made

    // scratch
    public Tensor Projection { get; }       // (B,T,C): output of c_proj before the residual add, never needed again
    public Tensor ResidualGrad { get; }     // (B,T,C): gradient of the residual stream, flowing down through the layers
    public Tensor NormGrad { get; }         // (B,T,C): gradient of a layer-norm output, then of the attention output
    public Tensor Wide { get; }             // (B,T,4C) storage shared by the next two
    public Tensor WideGrad { get; }         // (B,T,4C): gradient of the MLP hidden layer (before and after GELU, in place)
    public Tensor QkvGrad { get; }          // (B,T,3C): gradient of qkv, same memory as WideGrad

    private Tensor Take(params int[] shape) => Take(TensorElementType.Float32, shape);

    private Tensor TakeInt32(params int[] shape) => Take(TensorElementType.Int32, shape);

    private Tensor Take(TensorElementType elementType, int[] shape)
    {
        var tensorShape = new TensorShape(shape);
        var tensor = Tensor.View(_buffer, _next, tensorShape, elementType);
        _next += tensorShape.Length;
        return tensor;
    }
}
