using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// Cross-attention (an encoder-decoder's decoder reading the encoder): queries projected from the decoder's stream x,
/// keys and values from the encoder's output (its memory) by one fused projection (rows [k (NKV·hs) | v (NKV·hs)]),
/// bidirectional attention over the memory with an optional key padding mask, and the output projection.
/// </summary>
internal sealed class CrossAttention
{
    public CrossAttention(ParameterLayoutBuilder layout, TransformerConfig config, string queryName, string keyValueName, string outputName)
    {
        int hs = config.HeadSize, q = config.HeadCount * hs, kv = config.KeyValueHeadCount * hs;
        Layout = new AttentionLayout(config.HeadCount, config.KeyValueHeadCount, hs, QueryColumn: 0, KeyColumn: 0, ValueColumn: kv,
            Causal: false, Scale: config.ScaledAttention ? 1f / MathF.Sqrt(hs) : 1f);
        Query = new Linear(layout, queryName, config.Width, q, config.AttentionBias, ParameterInit.Normal);
        KeyValue = new Linear(layout, keyValueName, config.Width, 2 * kv, config.AttentionBias, ParameterInit.Normal);
        Output = new Linear(layout, outputName, q, config.Width, config.AttentionBias, ParameterInit.ResidualNormal);
    }

    public AttentionLayout Layout { get; }
    public Linear Query { get; }
    public Linear KeyValue { get; }
    public Linear Output { get; }

    public void Bind(ParameterViews views)
    {
        Query.Bind(views);
        KeyValue.Bind(views);
        Output.Bind(views);
    }

    /// <summary>Saved for the backward: q (B,Tq,NH·hs), k|v (B,Tk,2·NKV·hs), the heads' output (B,Tq,NH·hs), the softmax normalizers (B,NH,Tq).</summary>
    public sealed record Activations(Tensor Query, Tensor KeyValue, Tensor Heads, Tensor LogSumExp);

    public Activations Plan(ActivationAllocator allocate, int batchSize, int queryCount, int memoryCount) => new(
        allocate.Float(batchSize, queryCount, Layout.HeadCount * Layout.HeadSize),
        allocate.Float(batchSize, memoryCount, 2 * Layout.KeyValueHeadCount * Layout.HeadSize),
        allocate.Float(batchSize, queryCount, Layout.HeadCount * Layout.HeadSize),
        allocate.Float(batchSize, Layout.HeadCount, queryCount));

    // output (B,Tq,C) = attention(q = x (B,Tq,C), k and v = memory (B,Tk,C)); memoryMask Int32 (B,Tk) hides padding, or null
    public void Forward(IBackend backend, Tensor output, Tensor input, Tensor memory, Tensor? memoryMask, Activations a)
    {
        Query.Forward(backend, a.Query, input);
        KeyValue.Forward(backend, a.KeyValue, memory);
        backend.AttentionForward(a.Heads, a.LogSumExp, a.Query, a.KeyValue, Layout, memoryMask);
        Output.Forward(backend, output, a.Heads);
    }

    // Inference: the memory's keys and values, projected once per input by ProjectMemory (B,Tk,2·NKV·hs), serve every
    // decoding step; output (B,Tq,C) from input (B,Tq,C), with query (B,Tq,NH·hs), heads (B,Tq,NH·hs), logSumExp (B,NH,Tq) as scratch.
    public void ProjectMemory(IBackend backend, Tensor keyValue, Tensor memory) => KeyValue.Forward(backend, keyValue, memory);

    public void ForwardProjected(IBackend backend, Tensor output, Tensor input, Tensor keyValue, Tensor? memoryMask, Tensor query, Tensor heads, Tensor logSumExp)
    {
        Query.Forward(backend, query, input);
        backend.AttentionForward(heads, logSumExp, query, keyValue, Layout, memoryMask);
        Output.Forward(backend, output, heads);
    }

    // inputGrad (B,Tq,C) and memoryGrad (B,Tk,C) are overwritten; headsGrad, queryGrad (B,Tq,NH·hs) and keyValueGrad
    // (B,Tk,2·NKV·hs) are scratch. A decoder sums memoryGrad over its layers itself.
    public void Backward(IBackend backend, Tensor inputGrad, Tensor memoryGrad, Tensor outputGrad, Tensor input, Tensor memory, Tensor? memoryMask,
        Activations a, Tensor headsGrad, Tensor queryGrad, Tensor keyValueGrad)
    {
        Output.Backward(backend, headsGrad, outputGrad, a.Heads);
        backend.AttentionBackward(queryGrad, keyValueGrad, null, headsGrad, a.Query, a.KeyValue, a.Heads, a.LogSumExp, Layout, memoryMask);
        Query.Backward(backend, inputGrad, queryGrad, input);
        KeyValue.Backward(backend, memoryGrad, keyValueGrad, memory);
    }
}
