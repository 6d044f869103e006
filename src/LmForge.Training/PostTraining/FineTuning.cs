using LmForge.Models.Transformer;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;

namespace LmForge.Training.PostTraining;

/// <summary>The training config of a fine-tuning run on conversations, from the model it starts from.</summary>
public static class FineTuning
{
    /// <summary>
    /// The base run's settings (batch, optimizer; <paramref name="baseCheckpoint"/>'s training_config.json when it has
    /// one) with the model's own shape, the conversations as data, and a gentler schedule (3e-4 decaying to 3e-5 after
    /// 10 warm-up steps, no samples). The step count is the caller's (see <see cref="StepsForEpochs"/>).
    /// </summary>
    public static TrainingConfig Config(TransformerModel model, string baseCheckpoint, string conversations, string? validation, string tokenizerPath)
    {
        var shape = model.Config;
        return (TrainerState.IsCheckpoint(baseCheckpoint) ? TrainerState.LoadConfig(baseCheckpoint) : new TrainingConfig()) with
        {
            Architecture = shape.Family,
            Layers = shape.LayerCount,
            Heads = shape.HeadCount,
            KeyValueHeads = shape.Family == TransformerFamilies.Llama ? shape.KeyValueHeadCount : 0,
            EmbeddingSize = shape.Width,
            IntermediateSize = shape.IntermediateSize,
            RopeTheta = shape.RopeTheta,
            VocabularySize = shape.VocabSize,
            ContextLength = shape.ContextLength,
            TrainShards = "",
            ValidationShards = "",
            TrainChats = Path.GetFullPath(conversations),
            ValidationChats = validation is null ? "" : Path.GetFullPath(validation),
            Tokenizer = Path.GetFullPath(tokenizerPath),
            LearningRate = 3e-4f,
            MinLearningRate = 3e-5f,
            WarmupSteps = 10,
            SampleEvery = 0,
        };
    }

    /// <summary>The config with the steps of <paramref name="epochs"/> passes over its conversations, evaluating 10 times and saving twice.</summary>
    public static TrainingConfig StepsForEpochs(TrainingConfig config, double epochs, Action<string>? log = null)
    {
        var (train, validation) = TrainingData.Open(config, log);
        using (train)
        using (validation)
        {
            int steps = (int)Math.Max(1, Math.Ceiling(train.BatchesPerEpoch * epochs / config.GradientAccumulationSteps));
            return config with { Steps = steps, EvalEvery = Math.Max(1, steps / 10), CheckpointEvery = Math.Max(1, steps / 2) };
        }
    }
}
