namespace LmForge.Tensors;

/// <summary>
/// The fused operations a transformer needs, each with its hand-written backward. A model calls only these, so the
/// same model runs on any device that implements them.
/// Gradient conventions: parameter gradients (weight, bias, embedding) are always ACCUMULATED into (+=), so the
/// caller zeroes them once per optimizer step and can accumulate micro-batches; gradients with respect to inputs
/// are OVERWRITTEN unless the method says otherwise. Shapes below: B batch, T time, C channels, OC output
/// channels, N rows (any leading dimensions flattened), V vocabulary, Vp padded vocabulary, NH heads. Ids, positions
/// and targets are Int32 tensors (<see cref="Tensor.AllocateInt32(ReadOnlySpan{int})"/>), everything else float32.
/// </summary>
public interface IBackend
{
    string Name { get; }

    // ---- memory: every tensor a model, trainer or optimizer uses comes from here, and data crosses only here ----

    /// <summary>A new zeroed tensor in this backend's memory; the caller disposes it.</summary>
    Tensor Allocate(TensorShape shape, TensorElementType elementType = TensorElementType.Float32);

    /// <summary>destination = source (host), element for element.</summary>
    void CopyFromHost(Tensor destination, ReadOnlySpan<float> source);

    void CopyFromHost(Tensor destination, ReadOnlySpan<int> source);

    /// <summary>destination (host) = source, element for element.</summary>
    void CopyToHost(Tensor source, Span<float> destination);

    void CopyToHost(Tensor source, Span<int> destination);

    /// <summary>
    /// Embedding lookup: output row n = table[ids[n]] (accumulate false) or output row n += table[ids[n]] (accumulate
    /// true, for position or token-type embeddings added onto a token embedding). ids Int32 (N) in [0, V); table (V,C);
    /// output (N,C) with any leading dimensions (N·C elements). An id outside [0, V) throws, naming its index.
    /// </summary>
    void EmbeddingForward(Tensor output, Tensor ids, Tensor table, bool accumulate);

    /// <summary>tableGrad (V,C) row ids[n] += outputGrad (N,C) row n, for every n (an id may repeat: its rows add up).</summary>
    void EmbeddingBackward(Tensor tableGrad, Tensor outputGrad, Tensor ids);

    /// <summary>output (N,OC) = input (N,C) · weightᵀ + bias; weight (OC,C) as in nn.Linear, bias (OC) or null.</summary>
    void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias);

    /// <summary>
    /// <see cref="LinearForward"/> into output, then activated = activation(output) (<see cref="ActivationForward"/>), in
    /// one call so a backend can apply the activation in the product's output stage while each tile is still in cache
    /// (the CPU backend does); output is kept, for the activation's backward.
    /// </summary>
    void LinearActivationForward(Tensor output, Tensor activated, Tensor input, Tensor weight, Tensor? bias, Activation activation)
    {
        LinearForward(output, input, weight, bias);
        ActivationForward(activated, output, activation);
    }

    /// <summary>inputGrad (N,C) = outputGrad · weight (overwritten); weightGrad (OC,C) += outputGradᵀ · input; biasGrad (OC) += Σ_N outputGrad.</summary>
    void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight);

    /// <summary>
    /// output (N,C) = (input − mean) · rstd · weight + bias per row, rstd = 1/√(variance + epsilon) (GPT-2 1e-5, BERT
    /// 1e-12); weight (C), bias (C) or null; saves mean (N) and rstd (N) for backward.
    /// </summary>
    void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor? bias, float epsilon);

    /// <summary>
    /// inputGrad (N,C) is ACCUMULATED into (layer norm inputs are residual streams that also receive the skip gradient);
    /// weightGrad (C) and biasGrad (C, or null when the forward had no bias) accumulate as every parameter gradient.
    /// </summary>
    void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd);

    /// <summary>RMSNorm (Llama, T5): output (N,C) = input · rstd · weight, rstd = 1/√(mean(input²) + epsilon) per row; weight (C); saves rstd (N).</summary>
    void RmsNormForward(Tensor output, Tensor rstd, Tensor input, Tensor weight, float epsilon);

    /// <summary>inputGrad (N,C) is ACCUMULATED into, as for <see cref="LayerNormBackward"/>; weightGrad (C) accumulates.</summary>
    void RmsNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor rstd);

    /// <summary>output = activation(input), elementwise (GPT-2 uses <see cref="Activation.GeluTanh"/>).</summary>
    void ActivationForward(Tensor output, Tensor input, Activation activation);

    /// <summary>inputGrad = outputGrad · activation'(input), elementwise; inputGrad may be the same tensor as outputGrad.</summary>
    void ActivationBackward(Tensor inputGrad, Tensor input, Tensor outputGrad, Activation activation);

    /// <summary>
    /// Gated MLP (SwiGLU with <see cref="Activation.Silu"/>, GeGLU with a GELU): gateUp (N,2I) holds [gate | up] per row;
    /// output (N,I) = activation(gate) ⊙ up.
    /// </summary>
    void GatedActivationForward(Tensor output, Tensor gateUp, Activation activation);

    /// <summary>gateUpGrad (N,2I) is overwritten: [outputGrad ⊙ up ⊙ activation'(gate) | outputGrad ⊙ activation(gate)].</summary>
    void GatedActivationBackward(Tensor gateUpGrad, Tensor gateUp, Tensor outputGrad, Activation activation);

    /// <summary>
    /// Rotary position embedding in place, Hugging Face's rotate-half convention. x (N,W): heads [0, headCount) of
    /// headSize (even) channels start at column <paramref name="column"/> of every row; row n is at position
    /// positions[n] (Int32 (N)). For i &lt; hs/2, invFreq_i = 1/theta^(2i/hs), angle = positions[n]·invFreq_i:
    /// (x_i, x_{i+hs/2}) → (x_i·cos − x_{i+hs/2}·sin, x_{i+hs/2}·cos + x_i·sin). Columns outside the heads are untouched.
    /// </summary>
    void RotaryForward(Tensor x, Tensor positions, int column, int headCount, int headSize, float theta);

    /// <summary>The backward of <see cref="RotaryForward"/>: the inverse rotation (angle → −angle) of xGrad, in place.</summary>
    void RotaryBackward(Tensor xGrad, Tensor positions, int column, int headCount, int headSize, float theta);

    /// <summary>output = a + b, elementwise. Its backward is the identity for both inputs, so models pass the gradient on unchanged.</summary>
    void ResidualForward(Tensor output, Tensor a, Tensor b);

    /// <summary>output = input · factor, elementwise (output may be input); its backward is the same scaling of the gradient.</summary>
    void Scale(Tensor output, Tensor input, float factor);

    /// <summary>
    /// Multi-head attention (NKV key/value heads, head size hs, Tq queries, Tk keys): self or cross, grouped-query,
    /// causal or bidirectional, with an optional key mask and an optional additive position bias. query (B,Tq,Wq):
    /// head h at columns [QueryColumn + h·hs, +hs); keyValue (B,Tk,Wkv): key head g at [KeyColumn + g·hs, +hs), value
    /// head g at [ValueColumn + g·hs, +hs) (see <see cref="AttentionLayout"/>). Query head h reads kv head h / (NH/NKV).
    /// For self-attention query and keyValue are the same tensor. Scores s[t,j] = Scale·(q_t·k_j) + positionBias[h,t,j] (positionBias (NH,Tq,Tk), shared
    /// over the batch). Key j is visible to query t iff keyMask[b,j] != 0 (keyMask Int32 (B,Tk)) and, when Causal,
    /// j &lt;= t + (Tk − Tq) (bottom-right aligned: with Tq == Tk ordinary causal; with a KV cache the new queries see all
    /// cached keys). Packed documents: with firstKey (Int32 (B,Tq), values in [0, Tk]) key j is also hidden from query
    /// t when j &lt; firstKey[b,t], so a row holding several documents never attends across them (firstKey[b,t] = the
    /// index where query t's document starts; keys below a block of queries' first keys are not even computed).
    /// output (B,Tq,NH·hs) = softmax over the visible keys · v. logSumExp (B,NH,Tq) saves each softmax
    /// row's normalizer for backward, so the (Tq,Tk) attention matrix is never stored; a query with no visible key
    /// gets output 0 and logSumExp +∞ (and gradient 0 in backward), never NaN.
    /// </summary>
    void AttentionForward(Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null);

    /// <summary>
    /// From outputGrad (B,Tq,NH·hs) and the forward's inputs, output and logSumExp: queryGrad (query's shape) has its
    /// q columns OVERWRITTEN, other columns untouched; keyValueGrad (keyValue's shape) has its k and v columns
    /// OVERWRITTEN, others untouched; for self-attention queryGrad and keyValueGrad are the same tensor.
    /// positionBiasGrad (NH,Tq,Tk), optional, is ACCUMULATED (+=, summed over the batch). keyMask, positionBias and
    /// firstKey must be the forward's.
    /// </summary>
    void AttentionBackward(Tensor queryGrad, Tensor keyValueGrad, Tensor? positionBiasGrad, Tensor outputGrad,
        Tensor query, Tensor keyValue, Tensor output, Tensor logSumExp, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null);

    /// <summary>
    /// KV cache for inference. keyCache and valueCache are (S,Tmax,NKV·hs): slot s holds one sequence's keys (values) by
    /// position. qkv (N,W) holds the N new tokens' rows laid out by layout (key heads at layout.KeyColumn, value heads at
    /// layout.ValueColumn, NKV heads of hs each); slots and positions are Int32 (N). Writes row n's key and value heads to
    /// [slots[n], positions[n]]. A slot or position outside the cache is a one-line error naming the row; two rows naming
    /// the same entry leave either one there.
    /// </summary>
    void KeyValueCacheWrite(Tensor keyCache, Tensor valueCache, Tensor qkv, in AttentionLayout layout, Tensor slots, Tensor positions);

    /// <summary>
    /// output (N,NH·hs): row n's query heads (NH heads at layout.QueryColumn of qkv) attend, with scores scaled by
    /// layout.Scale, to the keys and values at positions [0, positions[n]] of slot slots[n] (causal by position: the row's own
    /// key and value must already be written; rows of one sequence may be several consecutive positions, as in a prefill).
    /// Query head h reads kv head h / (NH/NKV). The layout must be causal; cache entries after a row's position (stale
    /// data of an earlier sequence, or later rows of the same call) do not affect it. Nothing is saved for a backward.
    /// distanceBias (NH, D), optional: T5's relative position bias of a causal decoder, added to the score of key j as
    /// distanceBias[h, positions[n] − j] (D must exceed the largest position).
    /// </summary>
    void CachedAttentionForward(Tensor output, Tensor qkv, Tensor keyCache, Tensor valueCache, in AttentionLayout layout, Tensor slots, Tensor positions,
        Tensor? distanceBias = null);

    /// <summary>
    /// losses (N) = −log softmax(logits[n, 0..V))[targets[n]] over the real vocabulary V of the padded logits (N,Vp).
    /// targets Int32 (N); a target of −1 is ignored (loss 0). Targets outside [−1, V) throw, naming their index.
    /// </summary>
    void CrossEntropyForward(Tensor losses, Tensor logits, Tensor targets, int vocabSize);

    /// <summary>indices Int32 (N) = for each row of logits (N,Vp), the column of its largest value among the real vocabulary [0, vocabSize) (the first on a tie): the model's most likely token.</summary>
    void ArgMax(Tensor indices, Tensor logits, int vocabSize);

    /// <summary>
    /// logitsGrad (N,Vp) = (softmax(logits) − onehot(target)) · lossGradScale over the real vocabulary, 0 in padded columns
    /// and in rows with target −1. Recomputes the softmax from logits and the forward's losses; logitsGrad may be the
    /// same tensor as logits (the logits are then overwritten).
    /// </summary>
    void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, Tensor targets, int vocabSize, float lossGradScale);

    /// <summary>Sets every element to zero.</summary>
    void Clear(Tensor values);

    /// <summary>Σ values, accumulated in double (for the mean loss).</summary>
    double Sum(Tensor values);

    /// <summary>Σ values², accumulated in double (for the global gradient norm).</summary>
    double SumOfSquares(Tensor values);

    /// <summary>
    /// One AdamW update of parameters with gradients·update.GradientScale (the scale folds in gradient clipping).
    /// Elements [0, decayedLength) get decoupled weight decay, the rest none (matrices first, biases and norms after).
    /// </summary>
    void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength);
}

/// <summary>The scalars of one AdamW step. Step counts from 1 (bias correction uses it).</summary>
public readonly record struct AdamWUpdate(
    float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, int Step, float GradientScale = 1f);

/// <summary>Host copies of whole tensors, for code that reads results (tests, checkpoints, sampling).</summary>
public static class BackendCopies
{
    /// <summary>A host array holding the tensor's floats.</summary>
    public static float[] ToHost(this IBackend backend, Tensor tensor)
    {
        var values = new float[tensor.Length];
        backend.CopyToHost(tensor, values);
        return values;
    }

    /// <summary>A host array holding the tensor's ints.</summary>
    public static int[] ToHostInt32(this IBackend backend, Tensor tensor)
    {
        var values = new int[tensor.Length];
        backend.CopyToHost(tensor, values);
        return values;
    }
}
