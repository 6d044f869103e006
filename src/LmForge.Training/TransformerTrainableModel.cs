using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Training;

/// <summary>The engine's <see cref="TransformerModel"/> (any family) as the trainer and the generator see it.</summary>
public sealed class TransformerTrainableModel(TransformerModel model) : ITrainableModel
{
    int[] _window = [];

    public TransformerModel Model { get; } = model;

    /// <summary>A new model of the config's architecture and shape, initialized from its seed.</summary>
    public static TransformerTrainableModel Create(TrainingConfig config, IBackend backend)
    {
        var model = new TransformerModel(config.ToModelConfig(), backend);
        model.InitializeWeights(config.Seed);
        return new TransformerTrainableModel(model);
    }

    /// <summary>Loads a checkpoint directory: config.json says the family, model.safetensors holds its weights.</summary>
    public static TransformerTrainableModel Load(string directory, IBackend backend) => new(ModelCheckpoint.Load(directory, backend));

    public int VocabularySize => Model.Config.VocabSize;
    public int ContextLength => Model.Config.ContextLength;
    public IBackend Backend => Model.Backend;
    public Tensor Parameters => Model.Parameters;
    public Tensor Gradients => Model.Gradients;
    public long DecayedParameterCount => Model.DecayedParameterCount;

    /// <summary>6 FLOPs per parameter per token (forward 2, backward 4) plus attention's 12·L·(NH·hs)·T (PaLM appendix B, as llm.c).</summary>
    public double TrainingFlopsPerToken(int sequenceLength) =>
        6.0 * Model.ParameterCount + 12.0 * Model.Config.LayerCount * Model.Config.HeadCount * Model.Config.HeadSize * sequenceLength;

    public float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale)
    {
        float loss = Model.Forward(inputs, targets, batchSize, sequenceLength);
        Model.Backward(lossScale);
        return loss;
    }

    public float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength) =>
        Model.Forward(inputs, targets, batchSize, sequenceLength);

    /// <summary>
    /// Runs the context at the full context length (padded after its end; attention is causal so the padding cannot
    /// reach earlier positions), so the model's activations stay planned for one shape while generating.
    /// </summary>
    public void NextTokenLogits(ReadOnlySpan<int> context, Span<float> logits)
    {
        int t = ContextLength;
        if (context.Length < 1 || context.Length > t)
            throw new ArgumentException($"context of {context.Length} tokens; expected 1 to {t}", nameof(context));
        if (_window.Length != t) _window = new int[t];
        context.CopyTo(_window);
        _window.AsSpan(context.Length).Clear();
        Model.Forward(_window, 1, t);
        int paddedVocabulary = Model.Config.PaddedVocabSize;
        Model.Backend.CopyToHost(Model.Logits.Slice((long)(context.Length - 1) * paddedVocabulary, new TensorShape(VocabularySize)), logits[..VocabularySize]);
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
