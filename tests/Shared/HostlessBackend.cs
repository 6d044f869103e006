using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tests.Shared;

/// <summary>
/// A backend whose memory the host cannot address, as a GPU's: every tensor it allocates throws on Pointer, AsSpan,
/// CopyFrom and ToArray, and the CPU backend behind it does the work. A model, trainer, optimizer or checkpoint that
/// runs on it reaches tensor memory only through the backend (its operations and its host copies), which is what a
/// CUDA backend needs. <see cref="Allocations"/> counts its allocations, to show the work really went through it.
/// </summary>
public sealed class HostlessBackend : IBackend
{
    private readonly CpuBackend _cpu = CpuBackend.Shared;

    public string Name => "hostless (" + _cpu.Name + ")";

    public int Allocations { get; private set; }

    /// <summary>Called at the start of every LinearForward: lets a test hold a forward pass in the middle.</summary>
    public Action? OnLinearForward { get; set; }

    public Tensor Allocate(TensorShape shape, TensorElementType elementType = TensorElementType.Float32)
    {
        Allocations++;
        return Tensor.Allocate(shape, elementType, hostAddressable: false);
    }

    public void CopyFromHost(Tensor destination, ReadOnlySpan<float> source) => _cpu.CopyFromHost(Hostless(destination), source);
    public void CopyFromHost(Tensor destination, ReadOnlySpan<int> source) => _cpu.CopyFromHost(Hostless(destination), source);
    public void CopyToHost(Tensor source, Span<float> destination) => _cpu.CopyToHost(Hostless(source), destination);
    public void CopyToHost(Tensor source, Span<int> destination) => _cpu.CopyToHost(Hostless(source), destination);

    public void EmbeddingForward(Tensor output, Tensor ids, Tensor table, bool accumulate) => _cpu.EmbeddingForward(Hostless(output), Hostless(ids), Hostless(table), accumulate);
    public void EmbeddingBackward(Tensor tableGrad, Tensor outputGrad, Tensor ids) => _cpu.EmbeddingBackward(Hostless(tableGrad), Hostless(outputGrad), Hostless(ids));
    public void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias)
    {
        OnLinearForward?.Invoke();
        _cpu.LinearForward(Hostless(output), Hostless(input), Hostless(weight), Maybe(bias));
    }
    public void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight) =>
        _cpu.LinearBackward(Hostless(inputGrad), Hostless(weightGrad), Maybe(biasGrad), Hostless(outputGrad), Hostless(input), Hostless(weight));
    public void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor? bias, float epsilon) =>
        _cpu.LayerNormForward(Hostless(output), Hostless(mean), Hostless(rstd), Hostless(input), Hostless(weight), Maybe(bias), epsilon);
    public void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd) =>
        _cpu.LayerNormBackward(Hostless(inputGrad), Hostless(weightGrad), Maybe(biasGrad), Hostless(outputGrad), Hostless(input), Hostless(weight), Hostless(mean), Hostless(rstd));
    public void RmsNormForward(Tensor output, Tensor rstd, Tensor input, Tensor weight, float epsilon) =>
        _cpu.RmsNormForward(Hostless(output), Hostless(rstd), Hostless(input), Hostless(weight), epsilon);
    public void RmsNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor rstd) =>
        _cpu.RmsNormBackward(Hostless(inputGrad), Hostless(weightGrad), Hostless(outputGrad), Hostless(input), Hostless(weight), Hostless(rstd));
    public void LinearActivationForward(Tensor output, Tensor activated, Tensor input, Tensor weight, Tensor? bias, Activation activation)
    {
        OnLinearForward?.Invoke();
        _cpu.LinearActivationForward(Hostless(output), Hostless(activated), Hostless(input), Hostless(weight), Maybe(bias), activation);
    }

    public void ActivationForward(Tensor output, Tensor input, Activation activation) => _cpu.ActivationForward(Hostless(output), Hostless(input), activation);
    public void ActivationBackward(Tensor inputGrad, Tensor input, Tensor outputGrad, Activation activation) =>
        _cpu.ActivationBackward(Hostless(inputGrad), Hostless(input), Hostless(outputGrad), activation);
    public void GatedActivationForward(Tensor output, Tensor gateUp, Activation activation) => _cpu.GatedActivationForward(Hostless(output), Hostless(gateUp), activation);
    public void GatedActivationBackward(Tensor gateUpGrad, Tensor gateUp, Tensor outputGrad, Activation activation) =>
        _cpu.GatedActivationBackward(Hostless(gateUpGrad), Hostless(gateUp), Hostless(outputGrad), activation);
    public void RotaryForward(Tensor x, Tensor positions, int column, int headCount, int headSize, float theta) =>
        _cpu.RotaryForward(Hostless(x), Hostless(positions), column, headCount, headSize, theta);
    public void RotaryBackward(Tensor xGrad, Tensor positions, int column, int headCount, int headSize, float theta) =>
        _cpu.RotaryBackward(Hostless(xGrad), Hostless(positions), column, headCount, headSize, theta);
    public void ResidualForward(Tensor output, Tensor a, Tensor b) => _cpu.ResidualForward(Hostless(output), Hostless(a), Hostless(b));
    public void Scale(Tensor output, Tensor input, float factor) => _cpu.Scale(Hostless(output), Hostless(input), factor);
    public void ArgMax(Tensor indices, Tensor logits, int vocabSize) => _cpu.ArgMax(Hostless(indices), Hostless(logits), vocabSize);
    public void AttentionForward(Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue, in AttentionLayout layout, Tensor? keyMask = null,
        Tensor? positionBias = null, Tensor? firstKey = null) =>
        _cpu.AttentionForward(Hostless(output), Hostless(logSumExp), Hostless(query), Hostless(keyValue), layout, Maybe(keyMask), Maybe(positionBias), Maybe(firstKey));
    public void AttentionBackward(Tensor queryGrad, Tensor keyValueGrad, Tensor? positionBiasGrad, Tensor outputGrad, Tensor query, Tensor keyValue, Tensor output,
        Tensor logSumExp, in AttentionLayout layout, Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null) =>
        _cpu.AttentionBackward(Hostless(queryGrad), Hostless(keyValueGrad), Maybe(positionBiasGrad), Hostless(outputGrad), Hostless(query), Hostless(keyValue),
            Hostless(output), Hostless(logSumExp), layout, Maybe(keyMask), Maybe(positionBias), Maybe(firstKey));
    public void KeyValueCacheWrite(Tensor keyCache, Tensor valueCache, Tensor qkv, in AttentionLayout layout, Tensor slots, Tensor positions) =>
        _cpu.KeyValueCacheWrite(Hostless(keyCache), Hostless(valueCache), Hostless(qkv), layout, Hostless(slots), Hostless(positions));
    public void CachedAttentionForward(Tensor output, Tensor qkv, Tensor keyCache, Tensor valueCache, in AttentionLayout layout, Tensor slots, Tensor positions,
        Tensor? distanceBias = null) =>
        _cpu.CachedAttentionForward(Hostless(output), Hostless(qkv), Hostless(keyCache), Hostless(valueCache), layout, Hostless(slots), Hostless(positions), Maybe(distanceBias));
    public void CrossEntropyForward(Tensor losses, Tensor logits, Tensor targets, int vocabSize) =>
        _cpu.CrossEntropyForward(Hostless(losses), Hostless(logits), Hostless(targets), vocabSize);
    public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, Tensor targets, int vocabSize, float lossGradScale) =>
        _cpu.CrossEntropyBackward(Hostless(logitsGrad), Hostless(logits), Hostless(losses), Hostless(targets), vocabSize, lossGradScale);
    public void Clear(Tensor values) => _cpu.Clear(Hostless(values));
    public double Sum(Tensor values) => _cpu.Sum(Hostless(values));
    public double SumOfSquares(Tensor values) => _cpu.SumOfSquares(Hostless(values));
    public void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength) =>
        _cpu.AdamW(Hostless(parameters), Hostless(gradients), Hostless(firstMoment), Hostless(secondMoment), update, decayedLength);

    // Every tensor handed to this backend must be one of its own: host memory passed in would mean a caller kept its own buffers.
    private static Tensor Hostless(Tensor tensor)
    {
        if (tensor.Buffer.IsHostAddressable)
            throw new InvalidOperationException($"{tensor} is host memory, not this backend's: the caller allocated it without IBackend.Allocate");
        return tensor;
    }

    private static Tensor? Maybe(Tensor? tensor) => tensor is null ? null : Hostless(tensor);
}
