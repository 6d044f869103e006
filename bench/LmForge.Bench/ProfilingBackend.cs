using System.Diagnostics;
using LmForge.Tensors;

namespace LmForge.Bench;

/// <summary>
/// Wraps a backend and adds up the wall time of every call, per operation and, for matrix products, per weight shape
/// (so the output projection shows apart from the block's linears), with the floating-point operations of the matrix
/// products and attention so their achieved GFLOP/s can be compared. Used by the train-step suite's --profile run.
/// </summary>
internal sealed class ProfilingBackend(IBackend inner) : IBackend
{
    private readonly Dictionary<string, (long Ticks, int Calls, double Flops)> _totals = new(StringComparer.Ordinal);

    public string Name => inner.Name;

    public IReadOnlyDictionary<string, (long Ticks, int Calls, double Flops)> Totals => _totals;

    public void Reset() => _totals.Clear();

    // memory and copies are not timed: they are set-up and I/O, not the step's compute
    public Tensor Allocate(TensorShape shape, TensorElementType elementType = TensorElementType.Float32) => inner.Allocate(shape, elementType);

    public void CopyFromHost(Tensor destination, ReadOnlySpan<float> source) => inner.CopyFromHost(destination, source);

    public void CopyFromHost(Tensor destination, ReadOnlySpan<int> source) => inner.CopyFromHost(destination, source);

    public void CopyToHost(Tensor source, Span<float> destination) => inner.CopyToHost(source, destination);

    public void CopyToHost(Tensor source, Span<int> destination) => inner.CopyToHost(source, destination);

    public void EmbeddingForward(Tensor output, Tensor ids, Tensor table, bool accumulate)
    {
        long start = Stopwatch.GetTimestamp();
        inner.EmbeddingForward(output, ids, table, accumulate);
        Add("EmbeddingForward", start);
    }

    public void EmbeddingBackward(Tensor tableGrad, Tensor outputGrad, Tensor ids)
    {
        long start = Stopwatch.GetTimestamp();
        inner.EmbeddingBackward(tableGrad, outputGrad, ids);
        Add("EmbeddingBackward", start);
    }

    public void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias)
    {
        long start = Stopwatch.GetTimestamp();
        inner.LinearForward(output, input, weight, bias);
        // (N,C)·(C,OC): 2·N·C·OC
        Add($"LinearForward {weight.Shape[0]}x{weight.Shape[1]}", start, 2.0 * input.Length * weight.Shape[0]);
    }

    public void LinearActivationForward(Tensor output, Tensor activated, Tensor input, Tensor weight, Tensor? bias, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.LinearActivationForward(output, activated, input, weight, bias, activation);
        Add($"LinearActivationForward {weight.Shape[0]}x{weight.Shape[1]}", start, 2.0 * input.Length * weight.Shape[0]);
    }

    public void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight)
    {
        long start = Stopwatch.GetTimestamp();
        inner.LinearBackward(inputGrad, weightGrad, biasGrad, outputGrad, input, weight);
        // two products of the forward's size: dX = dY·W and dW += dYᵀ·X
        Add($"LinearBackward {weight.Shape[0]}x{weight.Shape[1]}", start, 4.0 * input.Length * weight.Shape[0]);
    }

    public void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor? bias, float epsilon)
    {
        long start = Stopwatch.GetTimestamp();
        inner.LayerNormForward(output, mean, rstd, input, weight, bias, epsilon);
        Add("LayerNormForward", start);
    }

    public void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd)
    {
        long start = Stopwatch.GetTimestamp();
        inner.LayerNormBackward(inputGrad, weightGrad, biasGrad, outputGrad, input, weight, mean, rstd);
        Add("LayerNormBackward", start);
    }

    public void RmsNormForward(Tensor output, Tensor rstd, Tensor input, Tensor weight, float epsilon)
    {
        long start = Stopwatch.GetTimestamp();
        inner.RmsNormForward(output, rstd, input, weight, epsilon);
        Add("RmsNormForward", start);
    }

    public void RmsNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor rstd)
    {
        long start = Stopwatch.GetTimestamp();
        inner.RmsNormBackward(inputGrad, weightGrad, outputGrad, input, weight, rstd);
        Add("RmsNormBackward", start);
    }

    public void ActivationForward(Tensor output, Tensor input, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ActivationForward(output, input, activation);
        Add("ActivationForward", start);
    }

    public void ActivationBackward(Tensor inputGrad, Tensor input, Tensor outputGrad, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ActivationBackward(inputGrad, input, outputGrad, activation);
        Add("ActivationBackward", start);
    }

    public void GatedActivationForward(Tensor output, Tensor gateUp, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.GatedActivationForward(output, gateUp, activation);
        Add("GatedActivationForward", start);
    }

    public void GatedActivationBackward(Tensor gateUpGrad, Tensor gateUp, Tensor outputGrad, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.GatedActivationBackward(gateUpGrad, gateUp, outputGrad, activation);
        Add("GatedActivationBackward", start);
    }

    public void RotaryForward(Tensor x, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        long start = Stopwatch.GetTimestamp();
        inner.RotaryForward(x, positions, column, headCount, headSize, theta);
        Add("RotaryForward", start);
    }

    public void RotaryBackward(Tensor xGrad, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        long start = Stopwatch.GetTimestamp();
        inner.RotaryBackward(xGrad, positions, column, headCount, headSize, theta);
        Add("RotaryBackward", start);
    }

    public void ArgMax(Tensor indices, Tensor logits, int vocabSize)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ArgMax(indices, logits, vocabSize);
        Add("ArgMax", start);
    }

    public void Scale(Tensor output, Tensor input, float factor)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Scale(output, input, factor);
        Add("Scale", start);
    }

    public void ResidualForward(Tensor output, Tensor a, Tensor b)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ResidualForward(output, a, b);
        Add("ResidualForward", start);
    }

    public void AttentionForward(Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null)
    {
        long start = Stopwatch.GetTimestamp();
        inner.AttentionForward(output, logSumExp, query, keyValue, layout, keyMask, positionBias, firstKey);
        // q·k and p·v over the causally visible (t, j) pairs: 4·hs flops per (b, h, t, j) (packed documents' firstKey
        // hides more pairs, which this count, made without reading backend memory, does not see)
        Add("AttentionForward", start, 4.0 * output.Length * VisiblePairsPerQuery(query.Shape[1], keyValue.Shape[1], layout.Causal));
    }

    public void AttentionBackward(Tensor queryGrad, Tensor keyValueGrad, Tensor? positionBiasGrad, Tensor outputGrad,
        Tensor query, Tensor keyValue, Tensor output, Tensor logSumExp, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null)
    {
        long start = Stopwatch.GetTimestamp();
        inner.AttentionBackward(queryGrad, keyValueGrad, positionBiasGrad, outputGrad, query, keyValue, output, logSumExp, layout, keyMask, positionBias, firstKey);
        // recomputed q·k, dv, dout·v, dq, dk: 10·hs flops per visible pair
        Add("AttentionBackward", start, 10.0 * output.Length * VisiblePairsPerQuery(query.Shape[1], keyValue.Shape[1], layout.Causal));
    }

    // Mean number of keys a query sees before masking: causal query t sees min(Tk, max(0, t + 1 + Tk − Tq)) keys.
    private static double VisiblePairsPerQuery(int queryCount, int keyCount, bool causal)
    {
        if (!causal || queryCount == 0) return keyCount;
        double pairs = 0;
        for (int t = 0; t < queryCount; t++) pairs += Math.Clamp(t + 1 + keyCount - queryCount, 0, keyCount);
        return pairs / queryCount;
    }

    public void KeyValueCacheWrite(Tensor keyCache, Tensor valueCache, Tensor qkv, in AttentionLayout layout, Tensor slots, Tensor positions)
    {
        long start = Stopwatch.GetTimestamp();
        inner.KeyValueCacheWrite(keyCache, valueCache, qkv, layout, slots, positions);
        Add("KeyValueCacheWrite", start);
    }

    // the flops depend on the positions, which live in backend memory: time only
    public void CachedAttentionForward(Tensor output, Tensor qkv, Tensor keyCache, Tensor valueCache, in AttentionLayout layout, Tensor slots, Tensor positions,
        Tensor? distanceBias = null)
    {
        long start = Stopwatch.GetTimestamp();
        inner.CachedAttentionForward(output, qkv, keyCache, valueCache, layout, slots, positions, distanceBias);
        Add("CachedAttentionForward", start);
    }

    public void CrossEntropyForward(Tensor losses, Tensor logits, Tensor targets, int vocabSize)
    {
        long start = Stopwatch.GetTimestamp();
        inner.CrossEntropyForward(losses, logits, targets, vocabSize);
        Add("CrossEntropyForward", start);
    }

    public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, Tensor targets, int vocabSize, float lossGradScale)
    {
        long start = Stopwatch.GetTimestamp();
        inner.CrossEntropyBackward(logitsGrad, logits, losses, targets, vocabSize, lossGradScale);
        Add("CrossEntropyBackward", start);
    }

    public double SumOfSquares(Tensor values)
    {
        long start = Stopwatch.GetTimestamp();
        double result = inner.SumOfSquares(values);
        Add("SumOfSquares", start);
        return result;
    }

    public void Clear(Tensor values)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Clear(values);
        Add("Clear", start);
    }

    public double Sum(Tensor values)
    {
        long start = Stopwatch.GetTimestamp();
        double result = inner.Sum(values);
        Add("Sum", start);
        return result;
    }

    public void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength)
    {
        long start = Stopwatch.GetTimestamp();
        inner.AdamW(parameters, gradients, firstMoment, secondMoment, update, decayedLength);
        Add("AdamW", start);
    }

    private void Add(string operation, long start, double flops = 0)
    {
        long elapsed = Stopwatch.GetTimestamp() - start;
        _totals[operation] = _totals.TryGetValue(operation, out var total)
            ? (total.Ticks + elapsed, total.Calls + 1, total.Flops + flops)
            : (elapsed, 1, flops);
    }
}
