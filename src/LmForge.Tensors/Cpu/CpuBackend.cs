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

    public void EmbeddingForward(Tensor output, Tensor ids, Tensor table, bool accumulate)
    {
        (int rows, int channels) = EmbeddingShapes(nameof(EmbeddingForward), output, nameof(output), ids, table, nameof(table));
        Embedding.Forward(Pool, output.Pointer, ids.IntPointer, table.Pointer, rows, channels, accumulate);
    }

    public void EmbeddingBackward(Tensor tableGrad, Tensor outputGrad, Tensor ids)
    {
        (int rows, int channels) = EmbeddingShapes(nameof(EmbeddingBackward), outputGrad, nameof(outputGrad), ids, tableGrad, nameof(tableGrad));
        Embedding.Backward(Pool, tableGrad.Pointer, outputGrad.Pointer, ids.IntPointer, rows, channels);
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
        LayerNorm.Forward(Pool, output.Pointer, mean.Pointer, rstd.Pointer, input.Pointer, weight.Pointer, bias is null ? null : bias.Pointer, rows, channels,
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
        LayerNorm.Backward(Pool, inputGrad.Pointer, weightGrad.Pointer, biasGrad is null ? null : biasGrad.Pointer, outputGrad.Pointer, input.Pointer,
            weight.Pointer, mean.Pointer, rstd.Pointer, rows, channels);
    }

    public void RmsNormForward(Tensor output, Tensor rstd, Tensor input, Tensor weight, float epsilon)
    {
        const string op = nameof(RmsNormForward);
        (int rows, int channels) = RowsAndChannels(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireLength(op, nameof(rstd), rstd, rows, input);
        Require(op, nameof(weight), weight, channels);
        RequireEpsilon(op, epsilon);
        RmsNorm.Forward(Pool, output.Pointer, rstd.Pointer, input.Pointer, weight.Pointer, rows, channels, epsilon);
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
        RmsNorm.Backward(Pool, inputGrad.Pointer, weightGrad.Pointer, outputGrad.Pointer, input.Pointer, weight.Pointer, rstd.Pointer, rows, channels);
    }

    public void ActivationForward(Tensor output, Tensor input, Activation activation)
    {
        const string op = nameof(ActivationForward);
        RequireFloat32(op, nameof(input), input);
        RequireSameShape(op, nameof(output), output, nameof(input), input);
        RequireActivation(op, activation);
        ActivationKernel.Forward(Pool, output.Pointer, input.Pointer, input.Length, activation);
    }

    public void ActivationBackward(Tensor inputGrad, Tensor input, Tensor outputGrad, Activation activation)
    {
        const string op = nameof(ActivationBackward);
        RequireFloat32(op, nameof(input), input);
        RequireSameShape(op, nameof(inputGrad), inputGrad, nameof(input), input);
        RequireSameShape(op, nameof(outputGrad), outputGrad, nameof(input), input);
        RequireActivation(op, activation);
        ActivationKernel.Backward(Pool, inputGrad.Pointer, input.Pointer, outputGrad.Pointer, input.Length, activation);
    }

    public void GatedActivationForward(Tensor output, Tensor gateUp, Activation activation)
    {
        const string op = nameof(GatedActivationForward);
        (int rows, int width) = GatedShapes(op, gateUp, output, nameof(output));
        RequireActivation(op, activation);
        GatedActivationKernel.Forward(Pool, output.Pointer, gateUp.Pointer, rows, width, activation);
    }

    public void GatedActivationBackward(Tensor gateUpGrad, Tensor gateUp, Tensor outputGrad, Activation activation)
    {
        const string op = nameof(GatedActivationBackward);
        (int rows, int width) = GatedShapes(op, gateUp, outputGrad, nameof(outputGrad));
        RequireSameShape(op, nameof(gateUpGrad), gateUpGrad, nameof(gateUp), gateUp);
        RequireActivation(op, activation);
        GatedActivationKernel.Backward(Pool, gateUpGrad.Pointer, gateUp.Pointer, outputGrad.Pointer, rows, width, activation);
    }

    public void RotaryForward(Tensor x, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        (int rows, int width) = RotaryShapes(nameof(RotaryForward), x, nameof(x), positions, column, headCount, headSize, theta);
        Rotary.Forward(Pool, x.Pointer, positions.IntPointer, rows, width, column, headCount, headSize, theta);
    }

    public void RotaryBackward(Tensor xGrad, Tensor positions, int column, int headCount, int headSize, float theta)
    {
        (int rows, int width) = RotaryShapes(nameof(RotaryBackward), xGrad, nameof(xGrad), positions, column, headCount, headSize, theta);
        Rotary.Backward(Pool, xGrad.Pointer, positions.IntPointer, rows, width, column, headCount, headSize, theta);
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

    public void CrossEntropyForward(Tensor losses, Tensor logits, Tensor targets, int vocabSize)
    {
        const string op = nameof(CrossEntropyForward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        CrossEntropy.Forward(Pool, losses.Pointer, logits.Pointer, targets.IntPointer, rows, vocabSize, paddedVocabSize);
    }

    public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, Tensor targets, int vocabSize, float lossGradScale)
    {
        const string op = nameof(CrossEntropyBackward);
        (int rows, int paddedVocabSize) = CrossEntropyShapes(op, losses, logits, targets, vocabSize);
        RequireSameShape(op, nameof(logitsGrad), logitsGrad, nameof(logits), logits);
        CrossEntropy.Backward(Pool, logitsGrad.Pointer, logits.Pointer, losses.Pointer, targets.IntPointer, rows, vocabSize, paddedVocabSize, lossGradScale);
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
        int* p = values.IntPointer;
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
            ThrowHelper.ThrowArgumentOutOfRange(nameof(ids), $"{op}: ids[{bad}] = {ids.IntPointer[bad]} is outside [0, {vocabSize}), the rows of {tableName} {table.Shape}");
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

    private static (int B, int T, int C) AttentionShapes(string op, Tensor output, Tensor logSumExp, Tensor qkv, int headCount)
    {
        RequireFloat32(op, nameof(qkv), qkv);
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
                $"{op}: targets[{bad}] = {targets.IntPointer[bad]} is outside [-1, {vocabSize}), the vocabulary (-1 = ignored)");
        return (rows, paddedVocabSize);
    }
}
