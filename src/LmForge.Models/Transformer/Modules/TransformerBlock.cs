using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// Buffers shared by every layer: the forward's projection output before the residual add, and the backward's
/// gradients, which flow down through the layers one at a time.
/// </summary>
internal sealed record TransformerScratch(
    Tensor Projection,        // (B,T,C): an attention or MLP output before it joins the residual stream
    Tensor ResidualGrad,      // (B,T,C): gradient of the residual stream
    Tensor NormGrad,          // (B,T,C): gradient of a norm's output (pre-norm) or input (post-norm)
    Tensor HeadsGrad,         // (B,T,NH·hs)
    Tensor QkvGrad,           // (B,T,(NH+2·NKV)·hs), same memory as MlpHiddenGrad
    Tensor MlpHiddenGrad,     // (B,T,I or 2·I)
    Tensor MlpActivatedGrad)  // (B,T,I): MlpHiddenGrad itself unless the MLP is gated
{
    /// <summary>The scratch of a stack of <paramref name="block"/>'s kind at (B,T).</summary>
    public static TransformerScratch Plan(ActivationAllocator allocate, TransformerBlock block, int b, int t, int c)
    {
        var attention = block.Attention.Layout;
        var mlp = block.Mlp;
        int wideWidth = Math.Max(attention.FusedWidth, mlp.UpWidth);
        var wide = allocate.Float(b * t * wideWidth);
        var hiddenGrad = wide.Slice(0, new TensorShape(b, t, mlp.UpWidth));
        return new TransformerScratch(
            Projection: allocate.Float(b, t, c),
            ResidualGrad: allocate.Float(b, t, c),
            NormGrad: allocate.Float(b, t, c),
            HeadsGrad: allocate.Float(b, t, attention.HeadCount * attention.HeadSize),
            QkvGrad: wide.Slice(0, new TensorShape(b, t, attention.FusedWidth)),
            MlpHiddenGrad: hiddenGrad,
            MlpActivatedGrad: mlp.Gated ? allocate.Float(b, t, mlp.HiddenWidth) : hiddenGrad);
    }
}

/// <summary>
/// One residual block: attention then MLP, each either pre-norm, x + f(norm(x)) (GPT-2, Llama, T5), or post-norm,
/// norm(x + f(x)) (the original transformer, BERT). A decoder block of an encoder-decoder (T5) has cross-attention to
/// the encoder's output between the two (pre-norm only): x + cross(norm(x), memory).
/// </summary>
internal sealed class TransformerBlock
{
    public TransformerBlock(ParameterLayoutBuilder layout, TransformerConfig config, TransformerNames names, int index, bool causal, bool crossAttention = false)
    {
        string Name(string format) => TransformerNames.Layer(format, index);
        PreNorm = config.PreNorm;
        if (crossAttention && !PreNorm) throw new ArgumentException("cross-attention blocks are pre-norm only", nameof(config));
        AttentionNorm = new Norm(layout, Name(names.AttentionNorm), config.Width, config.Norm, config.NormEpsilon, config.NormBias);
        Attention = new SelfAttention(layout, config, Name(names.Qkv), Name(names.AttentionOutput), causal);
        if (crossAttention)
        {
            CrossNorm = new Norm(layout, Name(names.CrossNorm), config.Width, config.Norm, config.NormEpsilon, config.NormBias);
            Cross = new CrossAttention(layout, config, Name(names.CrossQuery), Name(names.CrossKeyValue), Name(names.CrossOutput));
        }
        MlpNorm = new Norm(layout, Name(names.MlpNorm), config.Width, config.Norm, config.NormEpsilon, config.NormBias);
        Mlp = new Mlp(layout, config, Name(names.MlpUp), Name(names.MlpDown));
    }

    public bool PreNorm { get; }
    public Norm AttentionNorm { get; }
    public SelfAttention Attention { get; }
    public Norm? CrossNorm { get; }
    public CrossAttention? Cross { get; }
    public Norm MlpNorm { get; }
    public Mlp Mlp { get; }

    public void Bind(ParameterViews views)
    {
        AttentionNorm.Bind(views);
        Attention.Bind(views);
        CrossNorm?.Bind(views);
        Cross?.Bind(views);
        MlpNorm.Bind(views);
        Mlp.Bind(views);
    }

    /// <summary>
    /// Saved for the backward. Pre-norm: Branch1 = norm1(x), Mid = x + attention(Branch1), Branch2 = norm2(Mid).
    /// Post-norm: Branch1 = x + attention(x), Mid = norm1(Branch1), Branch2 = Mid + mlp(Mid). All (B,T,C). With
    /// cross-attention: CrossBranch = normX(Mid), CrossMid = Mid + cross(CrossBranch), and Branch2 = norm2(CrossMid).
    /// </summary>
    public sealed record Activations(Tensor Branch1, NormStatistics Norm1, SelfAttention.Activations Attention, Tensor Mid,
        Tensor Branch2, NormStatistics Norm2, Mlp.Activations Mlp, Tensor? CrossBranch = null, NormStatistics? CrossNormStatistics = null,
        CrossAttention.Activations? Cross = null, Tensor? CrossMid = null);

    /// <param name="memoryLength">The encoder's length Tk (cross-attention blocks only).</param>
    public Activations Plan(ActivationAllocator allocate, int b, int t, int c, int memoryLength = 0) => new(
        allocate.Float(b, t, c), AttentionNorm.PlanStatistics(allocate, b, t), Attention.Plan(allocate, b, t), allocate.Float(b, t, c),
        allocate.Float(b, t, c), MlpNorm.PlanStatistics(allocate, b, t), Mlp.Plan(allocate, b, t),
        Cross is null ? null : allocate.Float(b, t, c), CrossNorm?.PlanStatistics(allocate, b, t),
        Cross?.Plan(allocate, b, t, memoryLength), Cross is null ? null : allocate.Float(b, t, c));

    // output (B,T,C) = block(input (B,T,C)); the context says positions, first keys, key mask, position bias and memory
    public void Forward(IBackend backend, Tensor output, Tensor input, Activations a, AttentionContext context, TransformerScratch s)
    {
        if (PreNorm)
        {
            AttentionNorm.Forward(backend, a.Branch1, a.Norm1, input);
            Attention.Forward(backend, s.Projection, a.Branch1, a.Attention, context);
            backend.ResidualForward(a.Mid, input, s.Projection);
            var mlpInput = a.Mid;
            if (Cross is not null)
            {
                var cross = context.Cross!;
                CrossNorm!.Forward(backend, a.CrossBranch!, a.CrossNormStatistics!, a.Mid);
                Cross.Forward(backend, s.Projection, a.CrossBranch!, cross.Memory, cross.MemoryMask, a.Cross!);
                backend.ResidualForward(a.CrossMid!, a.Mid, s.Projection);
                mlpInput = a.CrossMid!;
            }
            MlpNorm.Forward(backend, a.Branch2, a.Norm2, mlpInput);
            Mlp.Forward(backend, s.Projection, a.Branch2, a.Mlp);
            backend.ResidualForward(output, mlpInput, s.Projection);
        }
        else
        {
            Attention.Forward(backend, s.Projection, input, a.Attention, context);
            backend.ResidualForward(a.Branch1, input, s.Projection);
            AttentionNorm.Forward(backend, a.Mid, a.Norm1, a.Branch1);
            Mlp.Forward(backend, s.Projection, a.Mid, a.Mlp);
            backend.ResidualForward(a.Branch2, a.Mid, s.Projection);
            MlpNorm.Forward(backend, output, a.Norm2, a.Branch2);
        }
    }

    // Inference against a KV cache: s.Residual (N,C) holds the block's input on entry and its output on return.
    // distanceBias: T5's causal relative position bias by distance (or null); cross: the decoder's cross-attention step
    // against the memory's keys and values projected once (cross-attention blocks only).
    public void ForwardCached(IBackend backend, DecodeScratch s, Tensor keyCache, Tensor valueCache, Tensor? distanceBias = null, CrossDecodeStep? cross = null)
    {
        var x = s.Residual;
        if (PreNorm)
        {
            AttentionNorm.Forward(backend, s.Normed, s.Statistics, x);
            Attention.ForwardCached(backend, s.Projection, s.Normed, s, keyCache, valueCache, distanceBias);
            backend.ResidualForward(x, x, s.Projection);
            if (Cross is not null)
            {
                var step = cross ?? throw new ArgumentNullException(nameof(cross), "a cross-attention block decodes against the encoder's keys and values");
                CrossNorm!.Forward(backend, s.Normed, s.Statistics, x);
                Cross.ForwardProjected(backend, step.Output, step.Input, step.KeyValue, step.MemoryMask, step.Query, step.Heads, step.LogSumExp);
                backend.ResidualForward(x, x, step.OutputRows);
            }
            MlpNorm.Forward(backend, s.Normed, s.Statistics, x);
            Mlp.Forward(backend, s.Projection, s.Normed, s.Mlp);
            backend.ResidualForward(x, x, s.Projection);
        }
        else
        {
            Attention.ForwardCached(backend, s.Projection, x, s, keyCache, valueCache, distanceBias);
            backend.ResidualForward(s.Sum, x, s.Projection);
            AttentionNorm.Forward(backend, x, s.Statistics, s.Sum);
            Mlp.Forward(backend, s.Projection, x, s.Mlp);
            backend.ResidualForward(s.Sum, x, s.Projection);
            MlpNorm.Forward(backend, x, s.Statistics, s.Sum);
        }
    }

    // s.ResidualGrad holds the gradient of the block's output on entry and of its input on return; the context is the
    // forward's (a position bias gradient and a cross-attention's memory gradient are accumulated into).
    public void Backward(IBackend backend, Tensor input, Activations a, AttentionContext context, TransformerScratch s)
    {
        if (PreNorm)
        {
            // the residual gradient passes the skip connections unchanged; each branch adds its part through its norm
            Mlp.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch2, a.Mlp, s.MlpActivatedGrad, s.MlpHiddenGrad);
            MlpNorm.Backward(backend, s.ResidualGrad, s.NormGrad, Cross is null ? a.Mid : a.CrossMid!, a.Norm2);
            if (Cross is not null)
            {
                var cross = context.Cross!;
                Cross.Backward(backend, s.NormGrad, cross.LayerMemoryGrad!, s.ResidualGrad, a.CrossBranch!, cross.Memory, cross.MemoryMask, a.Cross!,
                    s.HeadsGrad, cross.QueryGrad!, cross.KeyValueGrad!);
                backend.ResidualForward(cross.MemoryGrad!, cross.MemoryGrad!, cross.LayerMemoryGrad!);
                CrossNorm!.Backward(backend, s.ResidualGrad, s.NormGrad, a.Mid, a.CrossNormStatistics!);
            }
            Attention.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch1, a.Attention, context, s.HeadsGrad, s.QkvGrad);
            AttentionNorm.Backward(backend, s.ResidualGrad, s.NormGrad, input, a.Norm1);
        }
        else
        {
            // d Branch2 = norm2'(dy); d Mid = d Branch2 + mlp'(d Branch2); d Branch1 = norm1'(d Mid); dx = d Branch1 + attention'(d Branch1)
            backend.Clear(s.NormGrad);
            MlpNorm.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch2, a.Norm2);
            Mlp.Backward(backend, s.ResidualGrad, s.NormGrad, a.Mid, a.Mlp, s.MlpActivatedGrad, s.MlpHiddenGrad);
            backend.ResidualForward(s.ResidualGrad, s.ResidualGrad, s.NormGrad);
            backend.Clear(s.NormGrad);
            AttentionNorm.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch1, a.Norm1);
            Attention.Backward(backend, s.ResidualGrad, s.NormGrad, input, a.Attention, context, s.HeadsGrad, s.QkvGrad);
            backend.ResidualForward(s.ResidualGrad, s.ResidualGrad, s.NormGrad);
        }
    }
}

/// <summary>
/// One decoding step's cross-attention for B sequences decoded in lockstep (one new row each, row b = sequence b):
/// the memory's keys and values KeyValue (B,Tk,2·NKV·hs), projected once, its key mask, and (B,1,·) scratch. Input is
/// the step's normed rows (B,C) seen as (B,1,C), OutputRows the (B,1,C) Output seen as (B,C): views made once per cache,
/// so a step allocates none.
/// </summary>
internal sealed record CrossDecodeStep(Tensor KeyValue, Tensor? MemoryMask, Tensor Query, Tensor Heads, Tensor LogSumExp, Tensor Output, Tensor Input)
{
    public Tensor OutputRows { get; } = Output.Slice(0, new TensorShape(Output.Shape[0], Output.Shape[2]));
}
