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

    /// <summary>Longest sequence the attention kernels accept (their per-worker score rows live on the stack: 512 KB at this length).</summary>
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

    public void AttentionForward(Tensor output, Tensor logSumExp, Tensor qkv, int headCount)
    {
        (int b, int t, int c) = AttentionShapes(nameof(AttentionForward), output, logSumExp, qkv, headCount);
        Attention.Forward(Pool, output.Pointer, logSumExp.Pointer, qkv.Pointer, b, t, c, headCount);
    }

    public void AttentionBackward(Tensor qkvGrad, Tensor outputGrad, Tensor qkv, Tensor output, Tensor logSumExp, int headCount)
    {
        const string op = nameof(AttentionBackward);
        (int b, int t, int c) = AttentionShapes(op, output, logSumExp, qkv, headCount);
        RequireSameShape(op, nameof(qkvGrad), qkvGrad, nameof(qkv), qkv);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(output), output);
        Attention.Backward(Pool, qkvGrad.Pointer, outputGrad.Pointer, qkv.Pointer, output.Pointer, logSumExp.Pointer, b, t, c, headCount);
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

    private static (int B, int T, int C) AttentionShapes(string op, Tensor output, Tensor logSumExp, Tensor qkv, int headCount)
    {
        RequireRank(op, nameof(qkv), qkv, 3);
        int b = qkv.Shape[0], t = qkv.Shape[1];
        if (qkv.Shape[2] % 3 != 0) ThrowHelper.ThrowShapeMismatch($"{op}: qkv has shape {qkv.Shape}, expected (B, T, 3·C)");
        int c = qkv.Shape[2] / 3;
        if (headCount < 1 || c % headCount != 0)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(headCount), $"{op}: {c} channels do not split into {headCount} heads");
        Require(op, nameof(output), output, b, t, c);
        Require(op, nameof(logSumExp), logSumExp, b, headCount, t);
        if (t > MaxAttentionTokens) // the kernels keep two rows of scores per query block on the worker's stack
            ThrowHelper.ThrowArgumentOutOfRange(nameof(qkv), $"{op}: sequence length {t} exceeds the CPU attention limit of {MaxAttentionTokens}");
        return (b, t, c);
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
