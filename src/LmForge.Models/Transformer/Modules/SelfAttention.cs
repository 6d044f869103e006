using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// Self-attention: one fused projection to q, k and v (rows [q (NH·hs) | k (NKV·hs) | v (NKV·hs)], grouped-query when
/// NKV &lt; NH), rotary embeddings on q and k when the config asks for them, causal or bidirectional attention, and
/// the output projection back to the residual width. Scores are scaled by 1/√hs unless the config says otherwise (T5),
/// and may carry an additive position bias (T5's relative positions, see <see cref="AttentionContext"/>).
/// </summary>
internal sealed class SelfAttention
{
    private readonly float _ropeTheta;
    private readonly bool _rotary;

    public SelfAttention(ParameterLayoutBuilder layout, TransformerConfig config, string qkvName, string outputName, bool causal)
    {
        int hs = config.HeadSize;
        Layout = AttentionLayout.Fused(config.HeadCount, config.KeyValueHeadCount, hs, causal) with { Scale = config.ScaledAttention ? 1f / MathF.Sqrt(hs) : 1f };
        Qkv = new Linear(layout, qkvName, config.Width, Layout.FusedWidth, config.AttentionBias, ParameterInit.Normal);
        Output = new Linear(layout, outputName, config.HeadCount * hs, config.Width, config.AttentionBias, ParameterInit.ResidualNormal);
        _rotary = config.Positions == PositionKind.Rotary;
        _ropeTheta = config.RopeTheta;
    }

    public AttentionLayout Layout { get; }
    public Linear Qkv { get; }
    public Linear Output { get; }

    public void Bind(ParameterViews views)
    {
        Qkv.Bind(views);
        Output.Bind(views);
    }

    /// <summary>What the backward needs: qkv after the rotation (B,T,(NH+2·NKV)·hs), the heads' output (B,T,NH·hs) and the softmax normalizers (B,NH,T).</summary>
    public sealed record Activations(Tensor Qkv, Tensor Heads, Tensor LogSumExp);

    public Activations Plan(ActivationAllocator allocate, int batchSize, int tokenCount) => new(
        allocate.Float(batchSize, tokenCount, Layout.FusedWidth),
        allocate.Float(batchSize, tokenCount, Layout.HeadCount * Layout.HeadSize),
        allocate.Float(batchSize, Layout.HeadCount, tokenCount));

    // output (B,T,C) = attention(input (B,T,C)) with the context's positions, first keys, key mask and position bias
    public void Forward(IBackend backend, Tensor output, Tensor input, Activations a, AttentionContext context)
    {
        Qkv.Forward(backend, a.Qkv, input);
        // q and k heads are adjacent columns [0, (NH+NKV)·hs) and rotate alike: one call turns both
        if (_rotary) backend.RotaryForward(a.Qkv, context.Positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        backend.AttentionForward(a.Heads, a.LogSumExp, a.Qkv, a.Qkv, Layout, context.KeyMask, context.PositionBias, context.FirstKey);
        Output.Forward(backend, output, a.Heads);
    }

    // Inference against a KV cache: output (N,C) = attention(input (N,C)) where row n is position positions[n] of the
    // sequence in cache slot slots[n]; its key and value join the cache and it attends to that slot's positions [0, positions[n]].
    // distanceBias (NH, D) or null: a causal relative position bias by distance back from the query (T5's decoder).
    public void ForwardCached(IBackend backend, Tensor output, Tensor input, DecodeScratch s, Tensor keyCache, Tensor valueCache, Tensor? distanceBias = null)
    {
        Qkv.Forward(backend, s.Qkv, input);
        if (_rotary) backend.RotaryForward(s.Qkv, s.Positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        backend.KeyValueCacheWrite(keyCache, valueCache, s.Qkv, Layout, s.Slots, s.Positions);
        backend.CachedAttentionForward(s.Heads, s.Qkv, keyCache, valueCache, Layout, s.Slots, s.Positions, distanceBias);
        Output.Forward(backend, output, s.Heads);
    }

    // inputGrad (B,T,C) overwritten from outputGrad (B,T,C); headsGrad (B,T,NH·hs) and qkvGrad (B,T,(NH+2·NKV)·hs) are
    // scratch; the context is the forward's, and its position bias gradient (if any) is accumulated into
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input, Activations a, AttentionContext context,
        Tensor headsGrad, Tensor qkvGrad)
    {
        Output.Backward(backend, headsGrad, outputGrad, a.Heads);
        backend.AttentionBackward(qkvGrad, qkvGrad, context.PositionBiasGrad, headsGrad, a.Qkv, a.Qkv, a.Heads, a.LogSumExp, Layout,
            context.KeyMask, context.PositionBias, context.FirstKey);
        if (_rotary) backend.RotaryBackward(qkvGrad, context.Positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        Qkv.Backward(backend, inputGrad, qkvGrad, input);
    }
}

/// <summary>
/// What a stack's attention reads besides its input, fixed for one forward and reused by its backward: positions
/// (Int32 (B·T), for rotary and learned positions), the first visible key of each query (packed documents, or null), a key mask
/// (Int32 (B,T), 0 hides a padding key, or null), T5's relative position bias (NH,T,T) shared by every layer and its
/// gradient (accumulated by every layer's backward), and, for a decoder, the encoder's output it cross-attends to.
/// Made once per plan, so a training step allocates nothing.
/// </summary>
internal sealed record AttentionContext(Tensor Positions, Tensor? FirstKey = null, Tensor? KeyMask = null, Tensor? PositionBias = null,
    Tensor? PositionBiasGrad = null, CrossAttentionContext? Cross = null);

/// <summary>
/// A decoder's view of the encoder: its output Memory (B,Tk,C), a key mask (Int32 (B,Tk)) or null, MemoryGrad (B,Tk,C), the
/// gradient of the memory summed over the decoder's layers (each layer's backward adds its part), and the scratch of one
/// layer's cross-attention backward: LayerMemoryGrad (B,Tk,C), QueryGrad (B,Tq,NH·hs), KeyValueGrad (B,Tk,2·NKV·hs).
/// </summary>
internal sealed record CrossAttentionContext(Tensor Memory, Tensor? MemoryMask, Tensor? MemoryGrad = null, Tensor? LayerMemoryGrad = null,
    Tensor? QueryGrad = null, Tensor? KeyValueGrad = null);
