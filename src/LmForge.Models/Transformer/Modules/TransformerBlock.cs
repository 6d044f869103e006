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
    Tensor MlpActivatedGrad); // (B,T,I): MlpHiddenGrad itself unless the MLP is gated

/// <summary>
/// One residual block: attention then MLP, each either pre-norm, x + f(norm(x)) (GPT-2, Llama), or post-norm,
/// norm(x + f(x)) (the original transformer, BERT).
/// </summary>
internal sealed class TransformerBlock
{
    public TransformerBlock(ParameterLayoutBuilder layout, TransformerConfig config, TransformerNames names, int index)
    {
        string Name(string format) => TransformerNames.Layer(format, index);
        PreNorm = config.PreNorm;
        AttentionNorm = new Norm(layout, Name(names.AttentionNorm), config.Width, config.Norm, config.NormEpsilon, config.NormBias);
        Attention = new SelfAttention(layout, config, Name(names.Qkv), Name(names.AttentionOutput));
        MlpNorm = new Norm(layout, Name(names.MlpNorm), config.Width, config.Norm, config.NormEpsilon, config.NormBias);
        Mlp = new Mlp(layout, config, Name(names.MlpUp), Name(names.MlpDown));
    }

    public bool PreNorm { get; }
    public Norm AttentionNorm { get; }
    public SelfAttention Attention { get; }
    public Norm MlpNorm { get; }
    public Mlp Mlp { get; }

    public void Bind(ParameterViews views)
    {
        AttentionNorm.Bind(views);
        Attention.Bind(views);
        MlpNorm.Bind(views);
        Mlp.Bind(views);
    }

    /// <summary>
    /// Saved for the backward. Pre-norm: Branch1 = norm1(x), Mid = x + attention(Branch1), Branch2 = norm2(Mid).
    /// Post-norm: Branch1 = x + attention(x), Mid = norm1(Branch1), Branch2 = Mid + mlp(Mid). All (B,T,C).
    /// </summary>
    public sealed record Activations(Tensor Branch1, NormStatistics Norm1, SelfAttention.Activations Attention, Tensor Mid,
        Tensor Branch2, NormStatistics Norm2, Mlp.Activations Mlp);

    public Activations Plan(ActivationAllocator allocate, int b, int t, int c) => new(
        allocate.Float(b, t, c), AttentionNorm.PlanStatistics(allocate, b, t), Attention.Plan(allocate, b, t), allocate.Float(b, t, c),
        allocate.Float(b, t, c), MlpNorm.PlanStatistics(allocate, b, t), Mlp.Plan(allocate, b, t));

    // output (B,T,C) = block(input (B,T,C)); positions Int32 (B·T), firstKey Int32 (B,T) or null (see SelfAttention)
    public void Forward(IBackend backend, Tensor output, Tensor input, Activations a, Tensor positions, Tensor? firstKey, TransformerScratch s)
    {
        if (PreNorm)
        {
            AttentionNorm.Forward(backend, a.Branch1, a.Norm1, input);
            Attention.Forward(backend, s.Projection, a.Branch1, a.Attention, positions, firstKey);
            backend.ResidualForward(a.Mid, input, s.Projection);
            MlpNorm.Forward(backend, a.Branch2, a.Norm2, a.Mid);
            Mlp.Forward(backend, s.Projection, a.Branch2, a.Mlp);
            backend.ResidualForward(output, a.Mid, s.Projection);
        }
        else
        {
            Attention.Forward(backend, s.Projection, input, a.Attention, positions, firstKey);
            backend.ResidualForward(a.Branch1, input, s.Projection);
            AttentionNorm.Forward(backend, a.Mid, a.Norm1, a.Branch1);
            Mlp.Forward(backend, s.Projection, a.Mid, a.Mlp);
            backend.ResidualForward(a.Branch2, a.Mid, s.Projection);
            MlpNorm.Forward(backend, output, a.Norm2, a.Branch2);
        }
    }

    // Inference against a KV cache: s.Residual (N,C) holds the block's input on entry and its output on return.
    public void ForwardCached(IBackend backend, DecodeScratch s, Tensor keyCache, Tensor valueCache)
    {
        var x = s.Residual;
        if (PreNorm)
        {
            AttentionNorm.Forward(backend, s.Normed, s.Statistics, x);
            Attention.ForwardCached(backend, s.Projection, s.Normed, s, keyCache, valueCache);
            backend.ResidualForward(x, x, s.Projection);
            MlpNorm.Forward(backend, s.Normed, s.Statistics, x);
            Mlp.Forward(backend, s.Projection, s.Normed, s.Mlp);
            backend.ResidualForward(x, x, s.Projection);
        }
        else
        {
            Attention.ForwardCached(backend, s.Projection, x, s, keyCache, valueCache);
            backend.ResidualForward(s.Sum, x, s.Projection);
            AttentionNorm.Forward(backend, x, s.Statistics, s.Sum);
            Mlp.Forward(backend, s.Projection, x, s.Mlp);
            backend.ResidualForward(s.Sum, x, s.Projection);
            MlpNorm.Forward(backend, x, s.Statistics, s.Sum);
        }
    }

    // s.ResidualGrad holds the gradient of the block's output on entry and of its input on return; positions and
    // firstKey are the forward's.
    public void Backward(IBackend backend, Tensor input, Activations a, Tensor positions, Tensor? firstKey, TransformerScratch s)
    {
        if (PreNorm)
        {
            // the residual gradient passes the skip connections unchanged; each branch adds its part through its norm
            Mlp.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch2, a.Mlp, s.MlpActivatedGrad, s.MlpHiddenGrad);
            MlpNorm.Backward(backend, s.ResidualGrad, s.NormGrad, a.Mid, a.Norm2);
            Attention.Backward(backend, s.NormGrad, s.ResidualGrad, a.Branch1, a.Attention, positions, firstKey, s.HeadsGrad, s.QkvGrad);
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
            Attention.Backward(backend, s.ResidualGrad, s.NormGrad, input, a.Attention, positions, firstKey, s.HeadsGrad, s.QkvGrad);
            backend.ResidualForward(s.ResidualGrad, s.ResidualGrad, s.NormGrad);
        }
    }
}
