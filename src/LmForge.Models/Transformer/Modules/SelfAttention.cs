using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// Self-attention: one fused projection to q, k and v (rows [q (NH·hs) | k (NKV·hs) | v (NKV·hs)], grouped-query when
/// NKV &lt; NH), rotary embeddings on q and k when the config asks for them, causal or bidirectional attention, and
/// the output projection back to the residual width.
/// </summary>
internal sealed class SelfAttention
{
    private readonly float _ropeTheta;
    private readonly bool _rotary;

    public SelfAttention(ParameterLayoutBuilder layout, TransformerConfig config, string qkvName, string outputName)
    {
        int hs = config.HeadSize;
        Layout = AttentionLayout.Fused(config.HeadCount, config.KeyValueHeadCount, hs, config.Causal);
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

    // output (B,T,C) = attention(input (B,T,C)); positions Int32 (B·T) rotate q and k; firstKey Int32 (B,T) or null:
    // with packed documents, token t sees only keys from its document's start firstKey[b,t]
    public void Forward(IBackend backend, Tensor output, Tensor input, Activations a, Tensor positions, Tensor? firstKey)
    {
        Qkv.Forward(backend, a.Qkv, input);
        // q and k heads are adjacent columns [0, (NH+NKV)·hs) and rotate alike: one call turns both
        if (_rotary) backend.RotaryForward(a.Qkv, positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        backend.AttentionForward(a.Heads, a.LogSumExp, a.Qkv, a.Qkv, Layout, firstKey: firstKey);
        Output.Forward(backend, output, a.Heads);
    }

    // Inference against a KV cache: output (N,C) = attention(input (N,C)) where row n is position positions[n] of the
    // sequence in cache slot slots[n]; its key and value join the cache and it attends to that slot's positions [0, positions[n]].
    public void ForwardCached(IBackend backend, Tensor output, Tensor input, DecodeScratch s, Tensor keyCache, Tensor valueCache)
    {
        Qkv.Forward(backend, s.Qkv, input);
        if (_rotary) backend.RotaryForward(s.Qkv, s.Positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        backend.KeyValueCacheWrite(keyCache, valueCache, s.Qkv, Layout, s.Slots, s.Positions);
        backend.CachedAttentionForward(s.Heads, s.Qkv, keyCache, valueCache, Layout, s.Slots, s.Positions);
        Output.Forward(backend, output, s.Heads);
    }

    // inputGrad (B,T,C) overwritten from outputGrad (B,T,C); headsGrad (B,T,NH·hs) and qkvGrad (B,T,(NH+2·NKV)·hs) are
    // scratch; positions and firstKey are the forward's
    public void Backward(IBackend backend, Tensor inputGrad, Tensor outputGrad, Tensor input, Activations a, Tensor positions, Tensor? firstKey,
        Tensor headsGrad, Tensor qkvGrad)
    {
        Output.Backward(backend, headsGrad, outputGrad, a.Heads);
        backend.AttentionBackward(qkvGrad, qkvGrad, null, headsGrad, a.Qkv, a.Qkv, a.Heads, a.LogSumExp, Layout, firstKey: firstKey);
        if (_rotary) backend.RotaryBackward(qkvGrad, positions, 0, Layout.HeadCount + Layout.KeyValueHeadCount, Layout.HeadSize, _ropeTheta);
        Qkv.Backward(backend, inputGrad, qkvGrad, input);
    }
}
