namespace LmForge.Training;

/// <summary>How a run ended: the last step done, the last losses, the newest checkpoint, and whether it was interrupted.</summary>
public sealed record TrainingResult(int Step, float LastTrainLoss, float? LastValidationLoss, string CheckpointDirectory, bool Interrupted, IReadOnlyList<float> TrainLosses);
