namespace LmForge.Training.Metrics;

/// <summary>
/// One optimizer step as written to metrics.jsonl. ValidationLoss is present only on evaluation steps (measured before
/// that step's update); the run's final validation, after the last update, is a record without TrainLoss and GradientNorm.
/// </summary>
public sealed record MetricsRecord(
    int Step,
    float? TrainLoss,
    float? ValidationLoss,
    float LearningRate,
    float? GradientNorm,
    double TokensPerSecond,
    double Mfu,
    double ElapsedSeconds);
