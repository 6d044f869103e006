using LmForge.Tensors;

namespace LmForge.Training;

/// <summary>
/// What the trainer needs from a model: one flat parameter buffer and its gradient buffer (matrices first, so weight
/// decay applies to [0, DecayedParameterCount)), a fused forward+backward over a batch, a loss-only forward, and saving
/// and loading its weights in a checkpoint directory.
/// </summary>
public interface ITrainableModel : IDisposable
{
    int VocabularySize { get; }

    /// <summary>The longest sequence the model trains on.</summary>
    int ContextLength { get; }

    /// <summary>The backend that owns the model's memory and runs its operations.</summary>
    IBackend Backend { get; }

    /// <summary>All parameters, flat (P).</summary>
    Tensor Parameters { get; }

    /// <summary>Their gradients (P), accumulated by <see cref="ForwardBackward"/> and zeroed by the trainer.</summary>
    Tensor Gradients { get; }

    /// <summary>Parameters [0, DecayedParameterCount) are weight matrices and embeddings (decayed); the rest are biases and norms.</summary>
    long DecayedParameterCount { get; }

    /// <summary>Training FLOPs per token at sequence length T (forward + backward), for the MFU estimate.</summary>
    double TrainingFlopsPerToken(int sequenceLength);

    /// <summary>Training FLOPs per input token when the targets per row are <paramref name="targetLength"/> (an encoder-decoder's decoder length; a single stack ignores it).</summary>
    double TrainingFlopsPerToken(int sequenceLength, int targetLength) => TrainingFlopsPerToken(sequenceLength);

    /// <summary>
    /// Forward and backward on inputs (B×T) and targets (B×T; for an encoder-decoder B×the decoder's length, the
    /// decoder's labels, −1 for none, which its inputs are shifted right from): ACCUMULATES d(mean loss · lossScale)/d(parameters) into Gradients
    /// and returns the mean loss. <paramref name="documentStarts"/> (B×T, or empty) packs several documents per row:
    /// each token's document begins at that index of its row, and nothing attends across documents.
    /// </summary>
    float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale,
        ReadOnlySpan<int> documentStarts = default);

    /// <summary>The mean loss on inputs/targets (as <see cref="ForwardBackward"/>) without touching the gradients (document starts as in <see cref="ForwardBackward"/>).</summary>
    float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default);

    /// <summary>
    /// The most likely token at each target position of the last <see cref="Loss"/> (the argmax of its logits; B × the
    /// target length), for the validation accuracy; false when the model cannot say (nothing is written then).
    /// </summary>
    bool PredictTokens(Span<int> tokens) => false;

    /// <summary>Writes the weights into a checkpoint directory (model.safetensors + config.json for GPT-2).</summary>
    void SaveWeights(string directory);

    /// <summary>Reads the weights of a checkpoint directory written by SaveWeights; a different shape is a one-line error.</summary>
    void LoadWeights(string directory);
}
