using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Training.Tests;

/// <summary>
/// A small model for testing the trainer's mechanics (not its numbers) quickly: token + position embedding, layer norm,
/// a linear head, cross-entropy, all with the engine's CPU kernels. Its parameters live in one buffer like the GPT's.
/// </summary>
sealed class TinyLanguageModel : ITrainableModel
{
    readonly CpuBackend _backend = CpuBackend.Shared;
    readonly int _channels;
    readonly Tensor _tokenEmbedding, _positionEmbedding, _head, _normWeight, _normBias, _headBias;
    readonly Tensor _tokenEmbeddingGrad, _positionEmbeddingGrad, _headGrad, _normWeightGrad, _normBiasGrad, _headBiasGrad;

    public TinyLanguageModel(int vocabularySize, int contextLength, int channels, int seed)
    {
        VocabularySize = vocabularySize;
        ContextLength = contextLength;
        _channels = channels;
        long matrices = 2L * vocabularySize * channels + (long)contextLength * channels;
        DecayedParameterCount = matrices;
        long total = matrices + 2 * channels + vocabularySize;
        Parameters = Tensor.Allocate((int)total);
        Gradients = Tensor.Allocate((int)total);
        long offset = 0;
        (Tensor, Tensor) Take(params int[] shape)
        {
            var s = new TensorShape(shape);
            var pair = (Parameters.Slice(offset, s), Gradients.Slice(offset, s));
            offset += s.Length;
            return pair;
        }
        (_tokenEmbedding, _tokenEmbeddingGrad) = Take(vocabularySize, channels);
        (_positionEmbedding, _positionEmbeddingGrad) = Take(contextLength, channels);
        (_head, _headGrad) = Take(vocabularySize, channels);
        (_normWeight, _normWeightGrad) = Take(channels);
        (_normBias, _normBiasGrad) = Take(channels);
        (_headBias, _headBiasGrad) = Take(vocabularySize);
        var random = new Random(seed);
        var values = Parameters.AsSpan();
        for (int i = 0; i < matrices; i++) values[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
        _normWeight.AsSpan().Fill(1f);
    }

    public int VocabularySize { get; }
    public int ContextLength { get; }
    public IBackend Backend => LmForge.Tensors.Cpu.CpuBackend.Shared;
    public Tensor Parameters { get; }
    public Tensor Gradients { get; }
    public long DecayedParameterCount { get; }

    public double TrainingFlopsPerToken(int sequenceLength) => 6.0 * Parameters.Length;

    // it attends to nothing, so packed documents need nothing from it
    public float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale,
        ReadOnlySpan<int> documentStarts = default) =>
        Run(inputs, targets, batchSize, sequenceLength, lossScale, backward: true);

    public float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default) =>
        Run(inputs, targets, batchSize, sequenceLength, 0, backward: false);

    float Run(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int b, int t, float lossScale, bool backward)
    {
        int n = b * t, c = _channels, v = VocabularySize;
        using var ids = Ids(inputs);
        using var positions = Positions(b, t);
        using var targetIds = Ids(targets);
        using var embedded = Tensor.Allocate(b, t, c);
        using var normed = Tensor.Allocate(n, c);
        using var mean = Tensor.Allocate(n);
        using var rstd = Tensor.Allocate(n);
        using var logits = Tensor.Allocate(n, v);
        using var losses = Tensor.Allocate(n);
        var embeddedRows = embedded.Reshape(new TensorShape(n, c));
        Embed(embedded, ids, positions);
        _backend.LayerNormForward(normed, mean, rstd, embeddedRows, _normWeight, _normBias, 1e-5f);
        _backend.LinearForward(logits, normed, _head, _headBias);
        _backend.CrossEntropyForward(losses, logits, targetIds, v);
        float loss = losses.AsSpan().ToArray().Sum() / n;
        if (!backward) return loss;
        using var normedGrad = Tensor.Allocate(n, c);
        using var embeddedGrad = Tensor.Allocate(b, t, c);
        _backend.CrossEntropyBackward(logits, logits, losses, targetIds, v, lossScale / n);
        _backend.LinearBackward(normedGrad, _headGrad, _headBiasGrad, logits, normed, _head);
        _backend.LayerNormBackward(embeddedGrad.Reshape(new TensorShape(n, c)), _normWeightGrad, _normBiasGrad, normedGrad, embeddedRows, _normWeight, mean, rstd);
        _backend.EmbeddingBackward(_tokenEmbeddingGrad, embeddedGrad, ids);
        _backend.EmbeddingBackward(_positionEmbeddingGrad, embeddedGrad, positions);
        return loss;
    }

    void Embed(Tensor embedded, Tensor ids, Tensor positions)
    {
        _backend.EmbeddingForward(embedded, ids, _tokenEmbedding, accumulate: false);
        _backend.EmbeddingForward(embedded, positions, _positionEmbedding, accumulate: true);
    }

    static Tensor Ids(ReadOnlySpan<int> values)
    {
        var ids = Tensor.AllocateInt32(values.Length);
        ids.CopyFrom(values);
        return ids;
    }

    static Tensor Positions(int b, int t)
    {
        var positions = Tensor.AllocateInt32(b, t);
        var span = positions.AsInt32Span();
        for (int i = 0; i < span.Length; i++) span[i] = i % t;
        return positions;
    }

    public unsafe void SaveWeights(string directory) =>
        SafeTensorsFile.Write(Path.Combine(directory, "model.safetensors"), [new SafeTensorEntry("parameters", [(int)Parameters.Length], Parameters.Pointer, Parameters.Length)]);

    public void LoadWeights(string directory)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(directory, "model.safetensors"));
        file.ReadFloat32("parameters", Parameters.AsSpan(), [(int)Parameters.Length]);
    }

    public void Dispose()
    {
        Parameters.Dispose();
        Gradients.Dispose();
    }
}
