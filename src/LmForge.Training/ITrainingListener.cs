using LmForge.Training.Metrics;

namespace LmForge.Training;

/// <summary>What a front end hears from a running <see cref="Trainer"/> (all optional; called on the training thread).</summary>
public interface ITrainingListener
{
    /// <summary>After every optimizer step, with the estimated time left.</summary>
    void OnStep(MetricsRecord record, int totalSteps, TimeSpan remaining) { }

    /// <summary>After each validation: its mean loss and, when the model says, the fraction of targets it ranks first.</summary>
    void OnValidation(int step, float validationLoss, float? accuracy) { }

    /// <summary>After the evaluation tasks that follow a validation: each task's acc_norm and "core".</summary>
    void OnTasks(int step, IReadOnlyDictionary<string, float> scores) { }

    void OnSample(int step, string text) { }

    void OnCheckpoint(int step, string directory) { }

    /// <summary>Something the user should know that does not stop the run (an MFU above 100 %: the peak is too low).</summary>
    void OnWarning(string message) { }
}
