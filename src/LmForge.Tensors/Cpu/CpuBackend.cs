using System.Runtime.CompilerServices;
using LmForge.Tensors.Cpu.Kernels;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// The CPU implementation of <see cref="IBackend"/>: checks shapes, then runs the kernels in Cpu/Kernels
/// (AVX2/FMA with a scalar fallback) on the worker pool. Shape checks allocate nothing unless they throw.
/// </summary>
public sealed unsafe class CpuBackend : IBackend
{
    public CpuBackend(WorkerPool? pool = null) => Pool = pool ?? WorkerPool.Shared;

    public static CpuBackend Shared { get; } = new();

    public WorkerPool Pool { get; }

    public string Name => GemmKernel.UsesAvx512 ? "cpu (AVX-512)" : VectorMath.IsAccelerated ? "cpu (AVX2)" : "cpu (scalar)";

    public Tensor Allocate(TensorShape shape, TensorElementType elementType = TensorElementType.Float32) =>
        Tensor.Allocate(shape, elementType, hostAddressable: true);

    public void CopyFromHost(Tensor destination, ReadOnlySpan<float> source)
    {
        RequireHostCopy(nameof(CopyFromHost), destination, TensorElementType.Float32, source.Length);
        source.CopyTo(new Span<float>(destination.Data, source.Length));
    }

    public void CopyFromHost(Tensor destination, ReadOnlySpan<int> source)
    {
        RequireHostCopy(nameof(CopyFromHost), destination, TensorElementType.Int32, source.Length);
        source.CopyTo(new Span<int>(destination.IntData, source.Length));
    }

    public void CopyToHost(Tensor source, Span<float> destination)
    {
        RequireHostCopy(nameof(CopyToHost), source, TensorElementType.Float32, destination.Length);
        new ReadOnlySpan<float>(source.Data, destination.Length).CopyTo(destination);
    }

    public void CopyToHost(Tensor source, Span<int> destination)
    {
        RequireHostCopy(nameof(CopyToHost), source, TensorElementType.Int32, destination.Length);
        new ReadOnlySpan<int>(source.IntData, destination.Length).CopyTo(destination);
    }

    // host spans are int-indexed: a copy moves a whole tensor of at most int.MaxValue elements
    private static void RequireHostCopy(string op, Tensor tensor, TensorElementType elementType, int hostLength)
    {
        if (tensor.ElementType != elementType) ThrowHelper.ThrowElementType(op, "tensor", tensor, elementType);
        if (tensor.Length != hostLength)
            ThrowHelper.ThrowShapeMismatch($"{op}: the tensor has shape {tensor.Shape} ({tensor.Length} elements) but the host span {hostLength}");
    }

    /// <summary>
    /// Longest key sequence the attention kernels accept: their per-worker scratch (the head's packed keys and values, a query
    /// block's score rows; <see cref="ThreadScratch"/>) grows with it, 21 MB per worker at this length with heads of 64.
    /// </summary>
    public const int MaxAttentionTokens = 16384;

    public void EmbeddingForward(Tensor output, Tensor ids, Tensor table, bool accumulate)
    {
        (int rows, int channels) = EmbeddingShapes(nameof(EmbeddingForward), output, nameof(output), ids, table, nameof(table));
        Embedding.Forward(Pool, output.Data, ids.IntData, table.Data, rows, channels, accumulate);
    }

    public void EmbeddingBackward(Tensor tableGrad, Tensor outputGrad, Tensor ids)
    {
        (int rows, int channels) = EmbeddingShapes(nameof(EmbeddingBackward), outputGrad, nameof(outputGrad), ids, tableGrad, nameof(tableGrad));
        Embedding.Backward(Pool, tableGrad.Data, outputGrad.Data, ids.IntData, rows, channels);
    }

    public void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias)
    {
        (int rows, int inChannels, int outChannels) = LinearShapes(nameof(LinearForward), output, input, weight, bias, "output", "input", "bias");
        Linear.Forward(Pool, output.Data, input.Data, weight.Data, bias is null ? null : bias.Data, rows, inChannels, outChannels);
    }

    public void LinearActivationForward(Tensor output, Tensor activated, Tensor input, Tensor weight, Tensor? bias, Activation activation)
    {
        const string op = nameof(LinearActivationForward);
        (int rows, int inChannels, int outChannels) = LinearShapes(op, output, input, weight, bias, "output", "input", "bias");
        RequireSameShape(op, nameof(activated), activated, nameof(output), output);
        RequireActivation(op, activation);
        Linear.Forward(Pool, output.Data, input.Data, weight.Data, bias is null ? null : bias.Data, rows, inChannels, outChannels,
            activated.Data, activation);
    }

    public void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight)
    {
        const string op = nameof(LinearBackward);
        (int rows, int inChannels, int outChannels) = LinearShapes(op, outputGrad, input, weight, biasGrad, "outputGrad", "input", "biasGrad");
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(weightGrad), weightGrad, nameof(weight), weight);
        Linear.Backward(Pool, inputGrad.Data, weightGrad.Data, biasGrad is null ? null : biasGrad.Data, outputGrad.Data, input.Data,
            weight.Data, rows, inChannels, outChannels);
    }

    public void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor? bias, float epsilon)
    {
        const string op = nameof(LayerNormForward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireLength(op, nameof(mean), mean, rows, input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        if (bias is not null) Require(op, nameof(bias), bias, channels);
        RequireEpsilon(op, epsilon);
        LayerNorm.Forward(Pool, output.Data, mean.Data, rstd.Data, input.Data, weight.Data, bias is null ? null : bias.Data, rows, channels,
            epsilon);
    }

    public void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd)
    {
        const string op = nameof(LayerNormBackward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(input), input);
        RequireLength(op, nameof(mean), mean, rows, input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        Require(op, nameof(weightGrad), weightGrad, channels);
        if (biasGrad is not null) Require(op, nameof(biasGrad), biasGrad, channels);
        LayerNorm.Backward(Pool, inputGrad.Data, weightGrad.Data, biasGrad is null ? null : biasGrad.Data, outputGrad.Data, input.Data,
            weight.Data, mean.Data, rstd.Data, rows, channels);
    }

    public void RmsNormForward(Tensor output, Tensor rstd, Tensor input, Tensor weight, float epsilon)
    {
        const string op = nameof(RmsNormForward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        RequireEpsilon(op, epsilon);
        RmsNorm.Forward(Pool, output.Data, rstd.Data, input.Data, weight.Data, rows, channels, epsilon);
    }

    public void RmsNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor rstd)
    {
        const string op = nameof(RmsNormBackward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(input), input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        Require(op, nameof(weightGrad), weightGrad, channels);
        RmsNorm.Backward(Pool, inputGrad.Data, weightGrad.Data, outputGrad.Data, input.Data, weight.Data, rstd.Data, rows, channels);
    }

    public void ActivationForward(Tensor output, Tensor input, Activation activation)
    {
        const string op = nameof(ActivationForward);
        RequireFloat32(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireActivation(op, activation);
        ActivationKernel.Forward(Pool, output.Data, input.Data, input.Length, activation);
    }

    public void ActivationBackward(Tensor inputGrad, Tensor input, Tensor outputGrad, Activation activation)
    {
        const string op = nameof(ActivationBackward);
        RequireFloat32(op, nameof(input), input);
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(input), input);
        RequireActivation(op, activation);
        ActivationKernel.Backward(Pool, inputGrad.Data, input.Data, outputGrad.Data, input.Length, activation);
    }

    public void GatedActivationForward(Tensor output, Tensor gateUp, Activation activation)
    {
        const string op = nameof(GatedActivationForward);
        (int rows, int width) = GatedShapes(op, gateUp, output, nameof(output));
        RequireActivation(op, activation);
        GatedActivationKernel.Forward(Pool, output.Data, gateUp.Data, rows, width, activation);
    }

    public void GatedActivationBackward(Tensor gateUpGrad, Tensor gateUp, Tensor outputGrad, Activation activation)
    {
        const string op = nameof(GatedActivationBackward);
        (int rows, int width) = GatedShapes(op, gateUp, outputGrad, nameof(outputGrad));
        RequireSameShape(op, nameof(gateUpGrad), gateUpGrad, nameof(gateUp), gateUp);
        RequireActivation(op, activation);
        GatedActivationKernel.Backward(Pool, gateUpGrad.Data, gateUp.Data, outputGrad.Data, rows, width, activation);
    }

    public void RotaryForward(Tensor x, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        (int rows, int width) = RotaryShapes(nameof(RotaryForward), x, nameof(x), positions, column, headCount, headSize, theta);
        Rotary.Forward(Pool, x.Data, positions.IntData, rows, width, column, headCount, headSize, theta);
    }

    public void RotaryBackward(Tensor xGrad, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        (int rows, int width) = RotaryShapes(nameof(RotaryBackward), xGrad, nameof(xGrad), positions, column, headCount, headSize, theta);
        Rotary.Backward(Pool, xGrad.Data, positions.IntData, rows, width, column, headCount, headSize, theta);
    }

    public void Scale(Tensor output, Tensor input, float factor)
    {
        RequireSameShape(nameof(Scale), nameof(output), output, nameof(input), input);
        Residual.Scale(Pool, output.Data, input.Data, factor, input.Length);
    }

    public void ResidualForward(Tensor output, Tensor a, Tensor b)
    {
        RequireSameShape(nameof(ResidualForward), nameof(b), b, nameof(a), a);
        RequireSameShape(nameof(ResidualForward), nameof(output), output, nameof(a), a);
        Residual.Forward(Pool, output.Data, a.Data, b.Data, a.Length);
    }

    public void AttentionForward(Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null)
    {
        (int b, int tq, int tk) = AttentionShapes(nameof(AttentionForward), output, logSumExp, query, keyValue, layout, keyMask, positionBias, firstKey);
        Attention.Forward(Pool, output.Data, logSumExp.Data, query.Data, keyValue.Data, keyMask is null ? null : keyMask.IntData,
            positionBias is null ? null : positionBias.Data, firstKey is null ? null : firstKey.IntData, b, tq, tk, query.Shape[2], keyValue.Shape[2], layout);
    }

    public void AttentionBackward(Tensor queryGrad, Tensor keyValueGrad, Tensor? positionBiasGrad, Tensor outputGrad,
        Tensor query, Tensor keyValue, Tensor output, Tensor logSumExp, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null, Tensor? firstKey = null)
    {
        const string op = nameof(AttentionBackward);
        (int b, int tq, int tk) = AttentionShapes(op, output, logSumExp, query, keyValue, layout, keyMask, positionBias, firstKey);
        RequireFloat32(op, nameof(queryGrad), queryGrad);
        RequireSameShape(op, nameof(queryGrad), queryGrad, nameof(query), query);
        RequireFloat32(op, nameof(keyValueGrad), keyValueGrad);
        RequireSameShape(op, nameof(keyValueGrad), keyValueGrad, nameof(keyValue), keyValue);
        RequireFloat32(op, nameof(outputGrad), outputGrad);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(output), output);
        if (positionBiasGrad is not null)
        {
            RequireFloat32(op, nameof(positionBiasGrad), positionBiasGrad);
            Require(op, nameof(positionBiasGrad), positionBiasGrad, layout.HeadCount, tq, tk);
        }
        RequireSeparateGradientColumns(op, queryGrad, keyValueGrad, layout);
        Attention.Backward(Pool, queryGrad.Data, keyValueGrad.Data, positionBiasGrad is null ? null : positionBiasGrad.Data,
            outputGrad.Data, query.Data, keyValue.Data, output.Data, logSumExp.Data, keyMask is null ? null : keyMask.IntData,
            positionBias is null ? null : positionBias.Data, firstKey is null ? null : firstKey.IntData, b, tq, tk, query.Shape[2], keyValue.Shape[2], layout);
    }

    public void KeyValueCacheWrite(Tensor keyCache, Tensor valueCache, Tensor qkv, in AttentionLayout layout, Tensor slots, Tensor positions)
    {
        const string op = nameof(KeyValueCacheWrite);
        (int rows, int width) = CacheShapes(op, keyCache, valueCache, qkv, layout, slots, positions);
        RequireHeadColumns(op, nameof(qkv), qkv, "key", layout.KeyColumn, layout.KeyValueHeadCount, layout.HeadSize);
        RequireHeadColumns(op, nameof(qkv), qkv, "value", layout.ValueColumn, layout.KeyValueHeadCount, layout.HeadSize);
        if (keyCache.Buffer == valueCache.Buffer
            && keyCache.Offset < valueCache.Offset + valueCache.Length && valueCache.Offset < keyCache.Offset + keyCache.Length)
            ThrowHelper.ThrowArgument(nameof(valueCache), $"{op}: keyCache and valueCache share memory, so values would overwrite keys");
        RequireCacheEntries(op, keyCache, slots, positions);
        CachedAttention.Write(Pool, keyCache.Data, valueCache.Data, qkv.Data, slots.IntData, positions.IntData, rows, width,
            keyCache.Shape[1], layout.KeyColumn, layout.ValueColumn, keyCache.Shape[2]);
    }

    public void CachedAttentionForward(Tensor output, Tensor qkv, Tensor keyCache, Tensor valueCache, in AttentionLayout layout, Tensor slots, Tensor positions,
        Tensor? distanceBias = null)
    {
        const string op = nameof(CachedAttentionForward);
        (int rows, int width) = CacheShapes(op, keyCache, valueCache, qkv, layout, slots, positions);
        if (!float.IsFinite(layout.Scale))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(layout), $"{op}: layout.Scale is {layout.Scale}, expected a finite number");
        if (!layout.Causal)
            ThrowHelper.ThrowArgument(nameof(layout), $"{op}: layout is not causal, expected a causal layout (a row attends to its slot's positions up to its own)");
        RequireHeadColumns(op, nameof(qkv), qkv, "query", layout.QueryColumn, layout.HeadCount, layout.HeadSize);
        int outputWidth = layout.HeadCount * layout.HeadSize;
        RequireFloat32(op, nameof(output), output);
        if (output.Shape.Rank < 1 || output.Shape[output.Shape.Rank - 1] != outputWidth || output.Length != (long)rows * outputWidth)
            ThrowHelper.ThrowShapeMismatch(
                $"{op}: output has shape {output.Shape}, expected {rows} rows of {outputWidth} ({layout.HeadCount} heads of {layout.HeadSize}) for qkv {qkv.Shape}");
        int maxPosition = RequireCacheEntries(op, keyCache, slots, positions);
        if (distanceBias is not null)
        {
            RequireFloat32(op, nameof(distanceBias), distanceBias);
            if (distanceBias.Shape.Rank != 2 || distanceBias.Shape[0] != layout.HeadCount || distanceBias.Shape[1] <= maxPosition)
                ThrowHelper.ThrowShapeMismatch(
                    $"{op}: distanceBias has shape {distanceBias.Shape}, expected ({layout.HeadCount}, > {maxPosition}): one bias per head and distance up to the largest position");
        }
        CachedAttention.Forward(Pool, output.Data, qkv.Data, keyCache.Data, valueCache.Data, slots.IntData, positions.IntData, rows, width,
            keyCache.Shape[1], maxPosition, layout, distanceBias is null ? null : distanceBias.Data, distanceBias is null ? 0 : distanceBias.Shape[1]);
    }

    public void CrossEntropyForward(Tensor losses, Tensor logits, Tensor targets, int vocabSize)
    {
        const string op = nameof(CrossEntropyForward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        CrossEntropy.Forward(Pool, losses.Data, logits.Data, targets.IntData, rows, vocabSize, paddedVocabSize);
    }

    public void ArgMax(Tensor indices, Tensor logits, int vocabSize)
    {
        const string op = nameof(ArgMax);
        RequireFloat32(op, nameof(logits), logits);
        if (logits.Shape.Rank < 1 || vocabSize < 1 || vocabSize > logits.Shape[logits.Shape.Rank - 1])
            ThrowHelper.ThrowArgumentOutOfRange(nameof(vocabSize), $"{op}: vocabSize {vocabSize} is outside [1, {(logits.Shape.Rank < 1 ? 0 : logits.Shape[logits.Shape.Rank - 1])}] (the logits' last dimension)");
        int paddedVocabSize = logits.Shape[logits.Shape.Rank - 1];
        int rows = (int)(logits.Length / paddedVocabSize);
        if (indices.ElementType != TensorElementType.Int32 || indices.Length != rows)
            ThrowHelper.ThrowShapeMismatch($"{op}: indices is {indices}, expected Int32 with {rows} elements (one per row of logits {logits.Shape})");
        CrossEntropy.ArgMax(Pool, indices.IntData, logits.Data, rows, vocabSize, paddedVocabSize);
    }

    public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, Tensor targets, int vocabSize, float lossGradScale)
    {
        const string op = nameof(CrossEntropyBackward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        RequireSameShape(op, nameof(logitsGrad), logitsGrad, nameof(logits), logits);
        CrossEntropy.Backward(Pool, logitsGrad.Data, logits.Data, losses.Data, targets.IntData, rows, vocabSize, paddedVocabSize, lossGradScale);
    }

    public void Clear(Tensor values) => Reduction.Clear(Pool, values.Data, values.Length);

    public double Sum(Tensor values) => Reduction.Sum(Pool, values.Data, values.Length, squares: false);

    public double SumOfSquares(Tensor values) => Reduction.Sum(Pool, values.Data, values.Length, squares: true);

    public void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength)
    {
        const string op = nameof(AdamW);
        RequireSameShape(op, nameof(gradients), gradients, nameof(parameters), parameters);
        RequireSameShape(op, nameof(firstMoment), firstMoment, nameof(parameters), parameters);
        RequireSameShape(op, nameof(secondMoment), secondMoment, nameof(parameters), parameters);
        if (decayedLength < 0 || decayedLength > parameters.Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(decayedLength), $"{op}: decayedLength {decayedLength} is outside [0, {parameters.Length}]");
        if (update.Step < 1) ThrowHelper.ThrowArgumentOutOfRange(nameof(update), $"{op}: step must count from 1, got {update.Step}");
        Kernels.AdamW.Update(Pool, parameters.Data, gradients.Data, firstMoment.Data, secondMoment.Data, parameters.Length, decayedLength, update);
    }

    // ---- shape checks: nothing is allocated unless a check fails ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Require(string op, string name, Tensor tensor, params ReadOnlySpan<int> expected)
    {
        RequireFloat32(op, name, tensor);
        if (!tensor.Shape.Dimensions.SequenceEqual(expected)) ThrowHelper.ThrowShapeMismatch(op, name, tensor.Shape, new TensorShape(expected));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RequireFloat32(string op, string name, Tensor tensor)
    {
        if (tensor.ElementType != TensorElementType.Float32) ThrowHelper.ThrowElementType(op, name, tensor, TensorElementType.Float32);
    }

    private static void RequireRank(string op, string name, Tensor tensor, int rank)
    {
        if (tensor.Shape.Rank != rank)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected a tensor of rank {rank}");
    }

    private static void RequireSameShape(string op, string name, Tensor tensor, string otherName, Tensor other)
    {
        RequireFloat32(op, name, tensor);
        if (tensor.Shape != other.Shape)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected the shape of {otherName} {other.Shape}");
    }

    private static void RequireLength(string op, string name, Tensor tensor, int rows, Tensor input)
    {
        RequireFloat32(op, name, tensor);
        if (tensor.Length != rows)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected {rows} elements, one per row of input {input.Shape}");
    }

    // An Int32 tensor (ids, positions, targets) with one element per row of rowsOf.
    private static void RequireInt32(string op, string name, Tensor tensor, int rows, string rowsOfName, Tensor rowsOf)
    {
        if (tensor.ElementType != TensorElementType.Int32) ThrowHelper.ThrowElementType(op, name, tensor, TensorElementType.Int32);
        if (tensor.Length != rows)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected {rows} elements, one per row of {rowsOfName} {rowsOf.Shape}");
    }

    // The index of the first value of an Int32 tensor outside [lowest, limit), or −1.
    private static int FindOutside(Tensor values, int lowest, int limit)
    {
        int* p = values.IntData;
        int count = (int)values.Length;
        for (int i = 0; i < count; i++)
        {
            if ((uint)(p[i] - lowest) >= (uint)(limit - lowest)) return i;
        }
        return -1;
    }

    private static void RequireEpsilon(string op, float epsilon)
    {
        if (!(epsilon >= 0f) || float.IsPositiveInfinity(epsilon))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(epsilon), $"{op}: epsilon {epsilon} must be finite and >= 0");
    }

    private static void RequireActivation(string op, Activation activation)
    {
        if ((uint)activation > (uint)Activation.Silu) // the last member
            ThrowHelper.ThrowArgumentOutOfRange(nameof(activation), $"{op}: unknown activation {activation}");
    }

    private static (int Rows, int Channels) RowsAndChannels(string op, string name, Tensor tensor)
    {
        RequireFloat32(op, name, tensor);
        if (tensor.Shape.Rank < 1 || tensor.Shape[tensor.Shape.Rank - 1] == 0)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected at least one dimension with channels");
        int channels = tensor.Shape[tensor.Shape.Rank - 1];
        return ((int)(tensor.Length / channels), channels);
    }

    // activations (N,C) with any leading dimensions, ids Int32 (N) in [0, V), table (V,C): forward and backward alike.
    private static (int Rows, int Channels) EmbeddingShapes(string op, Tensor activations, string activationsName, Tensor ids, Tensor table, string tableName)
    {
        RequireFloat32(op, tableName, table);
        RequireRank(op, tableName, table, 2);
        int vocabSize = table.Shape[0], channels = table.Shape[1];
        (int rows, int activationChannels) = RowsAndChannels(op, activationsName, activations);
        if (activationChannels != channels)
            ThrowHelper.ThrowShapeMismatch($"{op}: {activationsName} has shape {activations.Shape}, expected last dimension {channels} to match {tableName} {table.Shape}");
        RequireInt32(op, nameof(ids), ids, rows, activationsName, activations);
        int bad = FindOutside(ids, 0, vocabSize);
        if (bad >= 0)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(ids), $"{op}: ids[{bad}] = {ids.IntData[bad]} is outside [0, {vocabSize}), the rows of {tableName} {table.Shape}");
        return (rows, channels);
    }

    // gateUp (N,2I) = [gate | up], other (N,I) with any leading dimensions.
    private static (int Rows, int Width) GatedShapes(string op, Tensor gateUp, Tensor other, string otherName)
    {
        (int rows, int doubleWidth) = RowsAndChannels(op, nameof(gateUp), gateUp);
        if (doubleWidth % 2 != 0)
            ThrowHelper.ThrowShapeMismatch($"{op}: gateUp has shape {gateUp.Shape}, expected an even last dimension (gate and up halves)");
        int width = doubleWidth / 2;
        RequireFloat32(op, otherName, other);
        if (other.Shape.Rank < 1 || other.Shape[other.Shape.Rank - 1] != width || other.Length != (long)rows * width)
            ThrowHelper.ThrowShapeMismatch($"{op}: {otherName} has shape {other.Shape}, expected {rows} rows of {width} for gateUp {gateUp.Shape}");
        return (rows, width);
    }

    // x (N,W), positions Int32 (N); headCount heads of headSize (even) columns from column, inside W.
    private static (int Rows, int Width) RotaryShapes(string op, Tensor x, string xName, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        (int rows, int width) = RowsAndChannels(op, xName, x);
        RequireInt32(op, nameof(positions), positions, rows, xName, x);
        if (headSize < 2 || headSize % 2 != 0 || headSize > Rotary.MaxHeadSize)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(headSize), $"{op}: headSize {headSize} must be even and in [2, {Rotary.MaxHeadSize}]");
        if (headCount < 1)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(headCount), $"{op}: headCount {headCount} must be at least 1");
        if (column < 0 || column + ((long)headCount * headSize) > width)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(column),
                $"{op}: {headCount} heads of {headSize} from column {column} do not fit in the {width} columns of {xName} {x.Shape}");
        if (!(theta > 0f) || float.IsPositiveInfinity(theta))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(theta), $"{op}: theta {theta} must be positive and finite");
        return (rows, width);
    }

    private static (int Rows, int InChannels, int OutChannels) LinearShapes(string op, Tensor output, Tensor input, Tensor weight, Tensor? bias,
        string outputName, string inputName, string biasName)
    {
        RequireFloat32(op, "weight", weight);
        RequireRank(op, "weight", weight, 2);
        int outChannels = weight.Shape[0], inChannels = weight.Shape[1];
        (int rows, int channels) = RowsAndChannels(op, inputName, input);
        if (channels != inChannels)
            ThrowHelper.ThrowShapeMismatch($"{op}: {inputName} has shape {input.Shape}, expected last dimension {inChannels} to match weight {weight.Shape}");
        RequireFloat32(op, outputName, output);
        if (output.Shape.Rank < 1 || output.Shape[output.Shape.Rank - 1] != outChannels || output.Length != (long)rows * outChannels)
            ThrowHelper.ThrowShapeMismatch($"{op}: {outputName} has shape {output.Shape}, expected {rows} rows of {outChannels} for {inputName} {input.Shape} and weight {weight.Shape}");
        if (bias is not null) Require(op, biasName, bias, outChannels);
        return (rows, inChannels, outChannels);
    }

    // query (B,Tq,Wq) and keyValue (B,Tk,Wkv) hold the layout's head columns; output (B,Tq,NH·hs); logSumExp (B,NH,Tq);
    // keyMask Int32 (B,Tk) or null; positionBias (NH,Tq,Tk) or null; firstKey Int32 (B,Tq) in [0, Tk] or null: forward
    // and backward alike.
    private static (int B, int Tq, int Tk) AttentionShapes(string op, Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue,
        in AttentionLayout layout, Tensor? keyMask, Tensor? positionBias, Tensor? firstKey)
    {
        RequireHeads(op, layout);
        int nh = layout.HeadCount, nkv = layout.KeyValueHeadCount, hs = layout.HeadSize;
        if (!float.IsFinite(layout.Scale))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(layout), $"{op}: layout.Scale is {layout.Scale}, expected a finite number");
        RequireFloat32(op, nameof(query), query);
        RequireFloat32(op, nameof(keyValue), keyValue);
        RequireRank(op, nameof(query), query, 3);
        RequireRank(op, nameof(keyValue), keyValue, 3);
        int b = query.Shape[0], tq = query.Shape[1], tk = keyValue.Shape[1];
        if (keyValue.Shape[0] != b)
            ThrowHelper.ThrowShapeMismatch($"{op}: keyValue has shape {keyValue.Shape}, expected batch size {b} of query {query.Shape}");
        RequireHeadColumns(op, nameof(query), query, "query", layout.QueryColumn, nh, hs);
        RequireHeadColumns(op, nameof(keyValue), keyValue, "key", layout.KeyColumn, nkv, hs);
        RequireHeadColumns(op, nameof(keyValue), keyValue, "value", layout.ValueColumn, nkv, hs);
        Require(op, nameof(output), output, b, tq, nh * hs);
        Require(op, nameof(logSumExp), logSumExp, b, nh, tq);
        if (keyMask is not null)
        {
            if (keyMask.ElementType != TensorElementType.Int32)
                ThrowHelper.ThrowArgument(nameof(keyMask), $"{op}: keyMask holds {keyMask.ElementType} elements, expected Int32 (0 hides a key)");
            if (keyMask.Shape.Rank != 2 || keyMask.Shape[0] != b || keyMask.Shape[1] != tk)
                ThrowHelper.ThrowShapeMismatch(op, nameof(keyMask), keyMask.Shape, new TensorShape(b, tk));
        }
        if (positionBias is not null)
        {
            Require(op, nameof(positionBias), positionBias, nh, tq, tk);
        }
        if (firstKey is not null)
        {
            if (firstKey.ElementType != TensorElementType.Int32)
                ThrowHelper.ThrowArgument(nameof(firstKey), $"{op}: firstKey holds {firstKey.ElementType} elements, expected Int32 (a query's first visible key)");
            if (firstKey.Shape.Rank != 2 || firstKey.Shape[0] != b || firstKey.Shape[1] != tq)
                ThrowHelper.ThrowShapeMismatch(op, nameof(firstKey), firstKey.Shape, new TensorShape(b, tq));
            int bad = FindOutside(firstKey, 0, tk + 1);
            if (bad >= 0)
                ThrowHelper.ThrowArgumentOutOfRange(nameof(firstKey),
                    $"{op}: firstKey[{bad / tq}, {bad % tq}] = {firstKey.IntData[bad]} is outside [0, {tk}], the keys of keyValue {keyValue.Shape}");
        }
        if (tk > MaxAttentionTokens)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(keyValue), $"{op}: key length {tk} exceeds the CPU attention limit of {MaxAttentionTokens}");
        return (b, tq, tk);
    }

    private static void RequireHeads(string op, in AttentionLayout layout)
    {
        int nh = layout.HeadCount, nkv = layout.KeyValueHeadCount, hs = layout.HeadSize;
        if (nh < 1 || nkv < 1 || hs < 1 || nh % nkv != 0)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(layout),
                $"{op}: layout has {nh} heads, {nkv} key/value heads and head size {hs}, expected positive counts with the key/value heads dividing the heads");
    }

    // heads [column, column + heads·hs) must lie inside the rows (the last dimension) of tensor
    private static void RequireHeadColumns(string op, string name, Tensor tensor, string what, int column, int heads, int headSize)
    {
        long end = column + ((long)heads * headSize);
        if (column < 0)
            ThrowHelper.ThrowArgumentOutOfRange("layout", $"{op}: {what} heads start at column {column}, expected a column >= 0");
        if (end > tensor.Shape[tensor.Shape.Rank - 1])
            ThrowHelper.ThrowShapeMismatch(
                $"{op}: {name} has shape {tensor.Shape}, expected rows of at least {end} columns for {heads} {what} heads of size {headSize} at columns [{column}, {end})");
    }

    // keyCache and valueCache (S,Tmax,NKV·hs) alike; qkv (N,W) with any leading dimensions; slots and positions Int32 (N).
    private static (int Rows, int Width) CacheShapes(string op, Tensor keyCache, Tensor valueCache, Tensor qkv, in AttentionLayout layout,
        Tensor slots, Tensor positions)
    {
        RequireHeads(op, layout);
        int keyValueWidth = layout.KeyValueHeadCount * layout.HeadSize;
        RequireFloat32(op, nameof(keyCache), keyCache);
        if (keyCache.Shape.Rank != 3 || keyCache.Shape[2] != keyValueWidth)
            ThrowHelper.ThrowShapeMismatch(
                $"{op}: keyCache has shape {keyCache.Shape}, expected (slots, positions, {keyValueWidth}) for {layout.KeyValueHeadCount} key/value heads of size {layout.HeadSize}");
        RequireSameShape(op, nameof(valueCache), valueCache, nameof(keyCache), keyCache);
        (int rows, int width) = RowsAndChannels(op, nameof(qkv), qkv);
        RequireInt32(op, nameof(slots), slots, rows, nameof(qkv), qkv);
        RequireInt32(op, nameof(positions), positions, rows, nameof(qkv), qkv);
        return (rows, width);
    }

    // Every (slots[n], positions[n]) must be an entry of the (S,Tmax,·) cache; returns the largest position (−1 for no rows).
    private static int RequireCacheEntries(string op, Tensor keyCache, Tensor slots, Tensor positions)
    {
        int slotCount = keyCache.Shape[0], length = keyCache.Shape[1], rows = (int)slots.Length;
        int* s = slots.IntData, p = positions.IntData;
        int maxPosition = -1;
        for (int n = 0; n < rows; n++)
        {
            if ((uint)s[n] >= (uint)slotCount)
                ThrowHelper.ThrowArgumentOutOfRange(nameof(slots),
                    $"{op}: row {n} has slot {s[n]}, outside [0, {slotCount}), the slots of keyCache {keyCache.Shape}");
            if ((uint)p[n] >= (uint)length)
                ThrowHelper.ThrowArgumentOutOfRange(nameof(positions),
                    $"{op}: row {n} has position {p[n]}, outside [0, {length}), the positions of keyCache {keyCache.Shape}");
            maxPosition = Math.Max(maxPosition, p[n]);
        }
        return maxPosition;
    }

    // The backward overwrites the k and v columns of keyValueGrad and the q columns of queryGrad: no two may share memory.
    private static void RequireSeparateGradientColumns(string op, Tensor queryGrad, Tensor keyValueGrad, in AttentionLayout layout)
    {
        int kv = layout.KeyValueHeadCount * layout.HeadSize;
        if (Overlap(layout.KeyColumn, layout.ValueColumn, kv, kv))
            ThrowHelper.ThrowArgument("layout",
                $"{op}: key columns [{layout.KeyColumn}, {layout.KeyColumn + kv}) and value columns [{layout.ValueColumn}, {layout.ValueColumn + kv}) overlap, so their gradients would overwrite each other");
        if (queryGrad.Buffer != keyValueGrad.Buffer
            || queryGrad.Offset + queryGrad.Length <= keyValueGrad.Offset || keyValueGrad.Offset + keyValueGrad.Length <= queryGrad.Offset)
            return; // separate memory: cross-attention
        if (queryGrad.Offset != keyValueGrad.Offset || queryGrad.Shape != keyValueGrad.Shape)
            ThrowHelper.ThrowArgument(nameof(keyValueGrad),
                $"{op}: queryGrad {queryGrad.Shape} and keyValueGrad {keyValueGrad.Shape} partly overlap in memory, expected the same tensor or separate ones");
        int q = layout.HeadCount * layout.HeadSize;
        if (Overlap(layout.QueryColumn, layout.KeyColumn, q, kv) || Overlap(layout.QueryColumn, layout.ValueColumn, q, kv))
            ThrowHelper.ThrowArgument("layout",
                $"{op}: query columns [{layout.QueryColumn}, {layout.QueryColumn + q}) overlap the key or value columns of the shared gradient tensor");

        static bool Overlap(int a, int b, int aWidth, int bWidth) => a < b + bWidth && b < a + aWidth;
    }


    private static (int Rows, int PaddedVocabSize) CrossEntropyShapes(string op, Tensor losses, Tensor logits, Tensor targets, int vocabSize)
    {
        (int rows, int paddedVocabSize) = RowsAndChannels(op, nameof(logits), logits);
        if (vocabSize < 1 || vocabSize > paddedVocabSize)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(vocabSize), $"{op}: vocabSize {vocabSize} is outside [1, {paddedVocabSize}] for logits {logits.Shape}");
        RequireLength(op, nameof(losses), losses, rows, logits);
        RequireInt32(op, nameof(targets), targets, rows, nameof(logits), logits);
        int bad = FindOutside(targets, -1, vocabSize);
        if (bad >= 0)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(targets),
                $"{op}: targets[{bad}] = {targets.IntData[bad]} is outside [-1, {vocabSize}), the vocabulary (-1 = ignored)");
        return (rows, paddedVocabSize);
    }
}
