using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Training;

/// <summary>
/// The engine's <see cref="EncoderDecoderModel"/> (T5) as the trainer sees it: inputs (B×T) into the encoder, targets
/// (B×the decoder's length) as the decoder's labels, from which its inputs are shifted right.
/// </summary>
public sealed class EncoderDecoderTrainableModel(EncoderDecoderModel model) : ITrainableModel
{
    private int _targetLength;

    public EncoderDecoderModel Model { get; } = model;

    public TransformerConfig Config => Model.Config;
    public long ParameterCount => Model.ParameterCount;
    public int VocabularySize => Model.Config.VocabSize;
    public int ContextLength => Model.Config.ContextLength;
    public IBackend Backend => Model.Backend;
    public Tensor Parameters => Model.Parameters;
    public Tensor Gradients => Model.Gradients;
    public long DecayedParameterCount => Model.DecayedParameterCount;

    /// <summary>
    /// Per input token: 6 FLOPs per parameter the token passes, plus attention (<see cref="TrainingFlops.PerToken"/>), at the
    /// last batch's target length (before any batch: <see cref="TrainingFlops.DefaultTargetShare"/> of T).
    /// </summary>
    public double TrainingFlopsPerToken(int sequenceLength) => TrainingFlops.PerToken(Model.Config, sequenceLength, _targetLength);

    /// <summary>Per input token at a target length the caller knows (the batch source's).</summary>
    public double TrainingFlopsPerToken(int sequenceLength, int targetLength) => TrainingFlops.PerToken(Model.Config, sequenceLength, targetLength);

    public float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale,
        ReadOnlySpan<int> documentStarts = default)
    {
        float loss = Loss(inputs, targets, batchSize, sequenceLength, documentStarts);
        Model.Backward(lossScale);
        return loss;
    }

    public float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default)
    {
        if (!documentStarts.IsEmpty) throw new ArgumentException("an encoder-decoder trains one input per row; packed documents are not supported", nameof(documentStarts));
        _targetLength = targets.Length / batchSize;
        return Model.Forward(inputs, targets, batchSize, sequenceLength);
    }

    public bool PredictTokens(Span<int> tokens)
    {
        Model.PredictTokens(tokens);
        return true;
    }

    public void SaveWeights(string directory) => ModelCheckpoint.Save(Model, directory);

    public void LoadWeights(string directory)
    {
        var saved = ModelCheckpoint.ReadConfig(ModelCheckpoint.ConfigPath(directory));
        if (saved != Model.Config)
            throw new InvalidDataException($"{ModelCheckpoint.ConfigPath(directory)}: the checkpoint's model differs from this one: {saved.DifferencesFrom(Model.Config)} (checkpoint vs model)");
        ModelCheckpoint.LoadWeights(Model, Path.Combine(directory, ModelCheckpoint.WeightsFileName));
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>The trainable model a config or a checkpoint names: a <see cref="TransformerTrainableModel"/>, or an <see cref="EncoderDecoderTrainableModel"/> for t5.</summary>
public static class TrainableModels
{
    /// <summary>A new model of the config's architecture and shape (a t5's decoder start token from its tokenizer), initialized from its seed.</summary>
    public static ITrainableModel Create(TrainingConfig config, IBackend backend)
    {
        var modelConfig = Data.TrainingData.ModelConfig(config);
        if (!modelConfig.IsEncoderDecoder) return TransformerTrainableModel.Create(modelConfig, config.Seed, backend);
        var model = new EncoderDecoderModel(modelConfig, backend);
        model.InitializeWeights(config.Seed);
        return new EncoderDecoderTrainableModel(model);
    }

    /// <summary>Loads a checkpoint directory of any family (config.json says which).</summary>
    public static ITrainableModel Load(string directory, IBackend backend) =>
        ModelCheckpoint.ReadConfig(ModelCheckpoint.ConfigPath(directory)).IsEncoderDecoder
            ? new EncoderDecoderTrainableModel(ModelCheckpoint.LoadEncoderDecoder(directory, backend))
            : TransformerTrainableModel.Load(directory, backend);
}
