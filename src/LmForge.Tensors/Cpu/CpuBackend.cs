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

    public string Name => VectorMath.IsAccelerated ? "cpu (AVX2)" : "cpu (scalar)";

    /// <summary>Longest key sequence the attention kernels accept (their per-worker score rows live on the stack: 512 KB at this length).</summary>
    public const int MaxAttentionTokens = 16384;

    public void EncoderForward(Tensor output, ReadOnlySpan<int> tokens, Tensor tokenEmbedding, Tensor positionEmbedding)
    {
        var (b, t, c) = RequireEncoderShapes(nameof(EncoderForward), output, nameof(output), tokenEmbedding, nameof(tokenEmbedding),
            positionEmbedding, nameof(positionEmbedding), tokens);
        fixed (int* tokenPointer = tokens)
            Encoder.Forward(Pool, output.Pointer, tokenPointer, tokenEmbedding.Pointer, positionEmbedding.Pointer, b, t, c);
    }

    public void EncoderBackward(Tensor tokenEmbeddingGrad, Tensor positionEmbeddingGrad, Tensor outputGrad, ReadOnlySpan<int> tokens)
    {
        var (b, t, c) = RequireEncoderShapes(nameof(EncoderBackward), outputGrad, nameof(outputGrad), tokenEmbeddingGrad, nameof(tokenEmbeddingGrad),
            positionEmbeddingGrad, nameof(positionEmbeddingGrad), tokens);
        fixed (int* tokenPointer = tokens)
            Encoder.Backward(Pool, tokenEmbeddingGrad.Pointer, positionEmbeddingGrad.Pointer, outputGrad.Pointer, tokenPointer, b, t, c);
    }

    // activations (B,T,C), tokenTable (V,C), positionTable (>= T,C), tokens B·T ids in [0, V): forward and backward alike.
    private static (int B, int T, int C) RequireEncoderShapes(string op, Tensor activations, string activationsName,
        Tensor tokenTable, string tokenTableName, Tensor positionTable, string positionTableName, ReadOnlySpan<int> tokens)
    {
        RequireRank(op, activationsName, activations, 3);
        int b = activations.Shape[0], t = activations.Shape[1], c = activations.Shape[2];
        RequireRank(op, tokenTableName, tokenTable, 2);
        RequireRank(op, positionTableName, positionTable, 2);
        Require(op, tokenTableName, tokenTable, tokenTable.Shape[0], c);
        if (positionTable.Shape[1] != c || positionTable.Shape[0] < t)
            ThrowHelper.ThrowShapeMismatch($"{op}: {positionTableName} has shape {positionTable.Shape}, expected (>= {t}, {c}) for {activationsName} {activations.Shape}");
        RequireTokens(op, tokens, b * t, tokenTable.Shape[0], allowIgnore: false);
        return (b, t, c);
    }

    public void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias)
    {
        (int rows, int inChannels, int outChannels) = LinearShapes(nameof(LinearForward), output, input, weight, bias, "output", "input", "bias");
        Linear.Forward(Pool, output.Pointer, input.Pointer, weight.Pointer, bias is null ? null : bias.Pointer, rows, inChannels, outChannels);
    }

    public void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight)
    {
        const string op = nameof(LinearBackward);
        (int rows, int inChannels, int outChannels) = LinearShapes(op, outputGrad, input, weight, biasGrad, "outputGrad", "input", "biasGrad");
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(weightGrad), weightGrad, nameof(weight), weight);
        Linear.Backward(Pool, inputGrad.Pointer, weightGrad.Pointer, biasGrad is null ? null : biasGrad.Pointer, outputGrad.Pointer, input.Pointer,
            weight.Pointer, rows, inChannels, outChannels);
    }

    public void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor bias)
    {
        const string op = nameof(LayerNormForward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireLength(op, nameof(mean), mean, rows, input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        Require(op, nameof(bias), bias, channels);
        LayerNorm.Forward(Pool, output.Pointer, mean.Pointer, rstd.Pointer, input.Pointer, weight.Pointer, bias.Pointer, rows, channels);
    }

    public void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd)
    {
        const string op = nameof(LayerNormBackward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(input), input);
        RequireLength(op, nameof(mean), mean, rows, input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        Require(op, nameof(weightGrad), weightGrad, channels);
        Require(op, nameof(biasGrad), biasGrad, channels);
        LayerNorm.Backward(Pool, inputGrad.Pointer, weightGrad.Pointer, biasGrad.Pointer, outputGrad.Pointer, input.Pointer, weight.Pointer,
            mean.Pointer, rstd.Pointer, rows, channels);
    }

    public void GeluForward(Tensor output, Tensor input)
    {
        RequireSameShape(nameof(GeluForward), nameof(output), output, nameof(input), input);
        Gelu.Forward(Pool, output.Pointer, input.Pointer, input.Length);
    }

    public void GeluBackward(Tensor inputGrad, Tensor input, Tensor outputGrad)
    {
        RequireSameShape(nameof(GeluBackward), nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(nameof(GeluBackward), nameof(outputGrad), outputGrad, nameof(input), input);
        Gelu.Backward(Pool, inputGrad.Pointer, input.Pointer, outputGrad.Pointer, input.Length);
    }

    public void ResidualForward(Tensor output, Tensor a, Tensor b)
    {
        RequireSameShape(nameof(ResidualForward), nameof(b), b, nameof(a), a);
        RequireSameShape(nameof(ResidualForward), nameof(output), output, nameof(a), a);
        Residual.Forward(Pool, output.Pointer, a.Pointer, b.Pointer, a.Length);
    }

    public void AttentionForward(Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null)
    {
        (int b, int tq, int tk) = AttentionShapes(nameof(AttentionForward), output, logSumExp, query, keyValue, layout, keyMask, positionBias);
        Attention.Forward(Pool, output.Pointer, logSumExp.Pointer, query.Pointer, keyValue.Pointer, keyMask is null ? null : keyMask.IntPointer,
            positionBias is null ? null : positionBias.Pointer, b, tq, tk, query.Shape[2], keyValue.Shape[2], layout);
    }

    public void AttentionBackward(Tensor queryGrad, Tensor keyValueGrad, Tensor? positionBiasGrad, Tensor outputGrad,
        Tensor query, Tensor keyValue, Tensor output, Tensor logSumExp, in AttentionLayout layout,
        Tensor? keyMask = null, Tensor? positionBias = null)
    {
        const string op = nameof(AttentionBackward);
        (int b, int tq, int tk) = AttentionShapes(op, output, logSumExp, query, keyValue, layout, keyMask, positionBias);
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
        Attention.Backward(Pool, queryGrad.Pointer, keyValueGrad.Pointer, positionBiasGrad is null ? null : positionBiasGrad.Pointer,
            outputGrad.Pointer, query.Pointer, keyValue.Pointer, output.Pointer, logSumExp.Pointer, keyMask is null ? null : keyMask.IntPointer,
            positionBias is null ? null : positionBias.Pointer, b, tq, tk, query.Shape[2], keyValue.Shape[2], layout);
    }

    public void CrossEntropyForward(Tensor losses, Tensor logits, ReadOnlySpan<int> targets, int vocabSize)
    {
        const string op = nameof(CrossEntropyForward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        fixed (int* targetPointer = targets)
            CrossEntropy.Forward(Pool, losses.Pointer, logits.Pointer, targetPointer, rows, vocabSize, paddedVocabSize);
    }

    public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, ReadOnlySpan<int> targets, int vocabSize, float lossGradScale)
    {
        const string op = nameof(CrossEntropyBackward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        RequireSameShape(op, nameof(logitsGrad), logitsGrad, nameof(logits), logits);
        fixed (int* targetPointer = targets)
            CrossEntropy.Backward(Pool, logitsGrad.Pointer, logits.Pointer, losses.Pointer, targetPointer, rows, vocabSize, paddedVocabSize, lossGradScale);
    }

    public void Clear(Tensor values) => Reduction.Clear(Pool, values.Pointer, values.Length);

    public double Sum(Tensor values) => Reduction.Sum(Pool, values.Pointer, values.Length, squares: false);

    public double SumOfSquares(Tensor values) => Reduction.Sum(Pool, values.Pointer, values.Length, squares: true);

    public void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength)
    {
        const string op = nameof(AdamW);
        RequireSameShape(op, nameof(gradients), gradients, nameof(parameters), parameters);
        RequireSameShape(op, nameof(firstMoment), firstMoment, nameof(parameters), parameters);
        RequireSameShape(op, nameof(secondMoment), secondMoment, nameof(parameters), parameters);
        if (decayedLength < 0 || decayedLength > parameters.Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(decayedLength), $"{op}: decayedLength {decayedLength} is outside [0, {parameters.Length}]");
        if (update.Step < 1) ThrowHelper.ThrowArgumentOutOfRange(nameof(update), $"{op}: step must count from 1, got {update.Step}");
        Kernels.AdamW.Update(Pool, parameters.Pointer, gradients.Pointer, firstMoment.Pointer, secondMoment.Pointer, parameters.Length, decayedLength, update);
    }

    // ---- shape checks: nothing is allocated unless a check fails ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Require(string op, string name, Tensor tensor, params ReadOnlySpan<int> expected)
    {
        if (!tensor.Shape.Dimensions.SequenceEqual(expected)) ThrowHelper.ThrowShapeMismatch(op, name, tensor.Shape, new TensorShape(expected));
    }

    private static void RequireRank(string op, string name, Tensor tensor, int rank)
    {
        if (tensor.Shape.Rank != rank)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected a tensor of rank {rank}");
    }

    private static void RequireSameShape(string op, string name, Tensor tensor, string otherName, Tensor other)
    {
        if (tensor.Shape != other.Shape)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected the shape of {otherName} {other.Shape}");
    }

    private static void RequireLength(string op, string name, Tensor tensor, int rows, Tensor input)
    {
        if (tensor.Length != rows)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected {rows} elements, one per row of input {input.Shape}");
    }

    private static (int Rows, int Channels) RowsAndChannels(string op, string name, Tensor tensor)
    {
        if (tensor.Shape.Rank < 1 || tensor.Shape[tensor.Shape.Rank - 1] == 0)
            ThrowHelper.ThrowShapeMismatch($"{op}: {name} has shape {tensor.Shape}, expected at least one dimension with channels");
        int channels = tensor.Shape[tensor.Shape.Rank - 1];
        return ((int)(tensor.Length / channels), channels);
    }

    private static (int Rows, int InChannels, int OutChannels) LinearShapes(string op, Tensor output, Tensor input, Tensor weight, Tensor? bias,
        string outputName, string inputName, string biasName)
    {
        RequireRank(op, "weight", weight, 2);
        int outChannels = weight.Shape[0], inChannels = weight.Shape[1];
        (int rows, int channels) = RowsAndChannels(op, inputName, input);
        if (channels != inChannels)
            ThrowHelper.ThrowShapeMismatch($"{op}: {inputName} has shape {input.Shape}, expected last dimension {inChannels} to match weight {weight.Shape}");
        if (output.Shape.Rank < 1 || output.Shape[output.Shape.Rank - 1] != outChannels || output.Length != (long)rows * outChannels)
            ThrowHelper.ThrowShapeMismatch($"{op}: {outputName} has shape {output.Shape}, expected {rows} rows of {outChannels} for {inputName} {input.Shape} and weight {weight.Shape}");
        if (bias is not null) Require(op, biasName, bias, outChannels);
        return (rows, inChannels, outChannels);
    }

    // query (B,Tq,Wq) and keyValue (B,Tk,Wkv) hold the layout's head columns; output (B,Tq,NH·hs); logSumExp (B,NH,Tq);
    // keyMask Int32 (B,Tk) or null; positionBias (NH,Tq,Tk) or null: forward and backward alike.
    private static (int B, int Tq, int Tk) AttentionShapes(string op, Tensor output, Tensor logSumExp, Tensor query, Tensor keyValue,
        in AttentionLayout layout, Tensor? keyMask, Tensor? positionBias)
    {
        int nh = layout.HeadCount, nkv = layout.KeyValueHeadCount, hs = layout.HeadSize;
        if (nh < 1 || nkv < 1 || hs < 1 || nh % nkv != 0)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(layout),
                $"{op}: layout has {nh} heads, {nkv} key/value heads and head size {hs}, expected positive counts with the key/value heads dividing the heads");
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
        RequireFloat32(op, nameof(output), output);
        Require(op, nameof(output), output, b, tq, nh * hs);
        RequireFloat32(op, nameof(logSumExp), logSumExp);
        Require(op, nameof(logSumExp), logSumExp, b, nh, tq);
        if (keyMask is not null)
        {
            if (keyMask.ElementType != TensorElementType.Int32)
                ThrowHelper.ThrowArgument(nameof(keyMask), $"{op}: keyMask holds {keyMask.ElementType} elements, expected Int32 (0 hides a key)");
            Require(op, nameof(keyMask), keyMask, b, tk);
        }
        if (positionBias is not null)
        {
            RequireFloat32(op, nameof(positionBias), positionBias);
            Require(op, nameof(positionBias), positionBias, nh, tq, tk);
        }
        if (tk > MaxAttentionTokens) // the kernels keep two rows of scores per query block on the worker's stack
            ThrowHelper.ThrowArgumentOutOfRange(nameof(keyValue), $"{op}: key length {tk} exceeds the CPU attention limit of {MaxAttentionTokens}");
        return (b, tq, tk);
    }

    // heads [column, column + heads·hs) must lie inside the rows of tensor (B,T,W)
    private static void RequireHeadColumns(string op, string name, Tensor tensor, string what, int column, int heads, int headSize)
    {
        long end = column + ((long)heads * headSize);
        if (column < 0)
            ThrowHelper.ThrowArgumentOutOfRange("layout", $"{op}: {what} heads start at column {column}, expected a column >= 0");
        if (end > tensor.Shape[2])
            ThrowHelper.ThrowShapeMismatch(
                $"{op}: {name} has shape {tensor.Shape}, expected rows of at least {end} columns for {heads} {what} heads of size {headSize} at columns [{column}, {end})");
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

    private static void RequireFloat32(string op, string name, Tensor tensor)
    {
        if (tensor.ElementType != TensorElementType.Float32)
            ThrowHelper.ThrowArgument(name, $"{op}: {name} holds {tensor.ElementType} elements, expected Float32");
    }

    private static (int Rows, int PaddedVocabSize) CrossEntropyShapes(string op, Tensor losses, Tensor logits, ReadOnlySpan<int> targets, int vocabSize)
    {
        (int rows, int paddedVocabSize) = RowsAndChannels(op, nameof(logits), logits);
        if (vocabSize < 1 || vocabSize > paddedVocabSize)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(vocabSize), $"{op}: vocabSize {vocabSize} is outside [1, {paddedVocabSize}] for logits {logits.Shape}");
        RequireLength(op, nameof(losses), losses, rows, logits);
        RequireTokens(op, targets, rows, vocabSize, allowIgnore: true);
        return (rows, paddedVocabSize);
    }

    private static void RequireTokens(string op, ReadOnlySpan<int> tokens, int count, int vocabSize, bool allowIgnore)
    {
        if (tokens.Length != count)
            ThrowHelper.ThrowArgument(nameof(tokens), $"{op}: got {tokens.Length} token ids, expected {count}");
        int lowest = allowIgnore ? -1 : 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)(tokens[i] - lowest) >= (uint)(vocabSize - lowest))
                ThrowHelper.ThrowArgumentOutOfRange(nameof(tokens), $"{op}: token id {tokens[i]} at index {i} is outside the vocabulary [{lowest}, {vocabSize})");
        }
    }
}
