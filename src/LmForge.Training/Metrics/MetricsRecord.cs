namespace LmForge.Training.Metrics;

/// <summary>
/// One optimizer step as written to metrics.jsonl. ValidationLoss is present only on evaluation steps (measured before
/// that step's update); the run's final validation, after the last update, is a record without TrainLoss and GradientNorm.
/// ValidationAccuracy, with ValidationLoss, is the fraction of validation targets the model ranks first (the masked
/// tokens of a BERT, the span targets of a T5, every next token of a decoder). TaskScores, with a run's evalTasks, holds
/// each task's acc_norm and "core" (the mean of their centred scores) at that validation.
/// </summary>
public sealed record MetricsRecord(
    int Step,
    float? TrainLoss,
    float? ValidationLoss,
    float LearningRate,
    float? GradientNorm,
    double TokensPerSecond,
    double Mfu,
    double ElapsedSeconds,
    float? ValidationAccuracy = null,
    IReadOnlyDictionary<string, float>? TaskScores = null);
