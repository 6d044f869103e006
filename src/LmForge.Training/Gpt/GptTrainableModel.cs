using LmForge.Models.Checkpoints;
using LmForge.Models.Gpt;
using LmForge.Tensors;

namespace LmForge.Training.Gpt;

/// <summary>The engine's GPT-2 (<see cref="GptModel"/>) as the trainer and the generator see it.</summary>
public sealed class GptTrainableModel(GptModel model) : ITrainableModel
{
    int[] _window = [];

    public GptModel Model { get; } = model;

    public static GptTrainableModel Create(TrainingConfig config, IBackend backend)
    {
        var model = new GptModel(new GptConfig(config.VocabularySize, config.ContextLength, config.Layers, config.Heads, config.EmbeddingSize), backend);
        model.InitializeWeights(config.Seed);
        return new GptTrainableModel(model);
    }

    /// <summary>Loads a checkpoint directory's config.json and model.safetensors (Hugging Face GPT-2 layout).</summary>
    public static GptTrainableModel Load(string directory, IBackend backend)
    {
        string config = Path.Combine(directory, Gpt2ConfigJson.FileName);
        if (!File.Exists(config)) throw new FileNotFoundException($"{config}: missing; a GPT-2 checkpoint directory holds {Gpt2Checkpoint.WeightsFileName} and {Gpt2ConfigJson.FileName}");
        return new GptTrainableModel(Gpt2Checkpoint.Load(directory, backend));
    }

    public int VocabularySize => Model.Config.VocabSize;
    public int ContextLength => Model.Config.ContextLength;
    public Tensor Parameters => Model.Parameters;
    public Tensor Gradients => Model.Gradients;
    public long DecayedParameterCount => Model.DecayedParameterCount;

    /// <summary>6 FLOPs per parameter per token (forward 2, backward 4) plus attention's 12·L·C·T (PaLM appendix B, as llm.c).</summary>
    public double TrainingFlopsPerToken(int sequenceLength) =>
        6.0 * Model.ParameterCount + 12.0 * Model.Config.LayerCount * Model.Config.Width * sequenceLength;

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
        Model.Logits.AsSpan().Slice((context.Length - 1) * paddedVocabulary, VocabularySize).CopyTo(logits);
    }

    public void SaveWeights(string directory) => Gpt2Checkpoint.Save(Model, directory);

    public void LoadWeights(string directory)
    {
        var saved = Gpt2ConfigJson.Read(Path.Combine(directory, Gpt2ConfigJson.FileName));
        var mine = Model.Config;
        if (saved.VocabSize != mine.VocabSize || saved.ContextLength != mine.ContextLength || saved.LayerCount != mine.LayerCount ||
            saved.HeadCount != mine.HeadCount || saved.Width != mine.Width)
        {
            throw new InvalidDataException(
                $"{directory}: checkpoint shape (vocab {saved.VocabSize}, context {saved.ContextLength}, {saved.LayerCount} layers, {saved.HeadCount} heads, width {saved.Width}) " +
                $"differs from the model's (vocab {mine.VocabSize}, context {mine.ContextLength}, {mine.LayerCount} layers, {mine.HeadCount} heads, width {mine.Width})");
        }
        Gpt2Checkpoint.LoadWeights(Model, Path.Combine(directory, Gpt2Checkpoint.WeightsFileName));
    }

    public void Dispose() => Model.Dispose();
}
