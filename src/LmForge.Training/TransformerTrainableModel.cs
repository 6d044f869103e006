using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Training;

/// <summary>The engine's <see cref="TransformerModel"/> (any family) as the trainer sees it.</summary>
public sealed class TransformerTrainableModel(TransformerModel model) : ITrainableModel
{
    public TransformerModel Model { get; } = model;

    /// <summary>A new single-stack model of the config's architecture and shape, initialized from its seed (a t5 config: see <see cref="TrainableModels.Create"/>).</summary>
    public static TransformerTrainableModel Create(TrainingConfig config, IBackend backend) => Create(config.ToModelConfig(), config.Seed, backend);

    internal static TransformerTrainableModel Create(TransformerConfig modelConfig, int seed, IBackend backend)
    {
        var model = new TransformerModel(modelConfig, backend);
        model.InitializeWeights(seed);
        return new TransformerTrainableModel(model);
    }

    /// <summary>Loads a checkpoint directory: config.json says the family, model.safetensors holds its weights.</summary>
    public static TransformerTrainableModel Load(string directory, IBackend backend) => new(ModelCheckpoint.Load(directory, backend));

    public TransformerConfig Config => Model.Config;
    public long ParameterCount => Model.ParameterCount;
    public int VocabularySize => Model.Config.VocabSize;
    public int ContextLength => Model.Config.ContextLength;
    public IBackend Backend => Model.Backend;
    public Tensor Parameters => Model.Parameters;
    public Tensor Gradients => Model.Gradients;
    public long DecayedParameterCount => Model.DecayedParameterCount;

    /// <summary>6 FLOPs per multiplying parameter per token (forward 2, backward 4; lookup tables excluded) plus attention's 12·L·(NH·hs)·T (PaLM appendix B, as llm.c): <see cref="TrainingFlops.PerToken"/>.</summary>
    public double TrainingFlopsPerToken(int sequenceLength) => TrainingFlops.PerToken(Model.Config, sequenceLength);

    public float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale,
        ReadOnlySpan<int> documentStarts = default)
    {
        float loss = Model.Forward(inputs, targets, batchSize, sequenceLength, documentStarts);
        Model.Backward(lossScale);
        return loss;
    }

    public float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default) =>
        Model.Forward(inputs, targets, batchSize, sequenceLength, documentStarts);

    public bool PredictTokens(Span<int> tokens)
    {
        Model.PredictTokens(tokens);
        return true;
    }

    public void SaveWeights(string directory) => ModelCheckpoint.Save(Model, directory);

    public void LoadWeights(string directory)
    {
        string configPath = Path.Combine(directory, ModelCheckpoint.ConfigFileName);
        var saved = ModelCheckpoint.ReadConfig(configPath);
        if (saved != Model.Config)
            throw new InvalidDataException($"{configPath}: the checkpoint's model differs from this one: {saved.DifferencesFrom(Model.Config)} (checkpoint vs model)");
        ModelCheckpoint.LoadWeights(Model, Path.Combine(directory, ModelCheckpoint.WeightsFileName));
    }

    public void Dispose() => Model.Dispose();
}
