using LmForge.Tokenization;

namespace LmForge.Training.Tasks;

/// <summary>
/// The multiple-choice tasks a training run evaluates with every validation (the config's evalTasks): the task list and
/// every task file are read when the run starts, so a bad file stops it at once with a one-line error, and each
/// evaluation scores the model being trained on the first evalTasksLimit examples of each task. Results are each
/// task's acc_norm and "core", the mean of their scores centred on chance.
/// </summary>
public sealed class TaskEvaluation
{
    public const string CoreName = "core";

    readonly BpeTokenizer _tokenizer;
    readonly IReadOnlyList<(MultipleChoiceTask Task, IReadOnlyList<MultipleChoiceExample> Examples)> _tasks;
    readonly int _limit;

    TaskEvaluation(BpeTokenizer tokenizer, IReadOnlyList<(MultipleChoiceTask, IReadOnlyList<MultipleChoiceExample>)> tasks, int limit)
    {
        _tokenizer = tokenizer;
        _tasks = tasks;
        _limit = limit;
    }

    /// <summary>The task names in order.</summary>
    public IReadOnlyList<string> Names => [.. _tasks.Select(t => t.Task.Name)];

    /// <summary>The run's task evaluation, or null when the config names no tasks.</summary>
    public static TaskEvaluation? Open(TrainingConfig config, BpeTokenizer tokenizer)
    {
        if (config.EvalTasks.Length == 0) return null;
        var tasks = MultipleChoiceTask.ReadList(config.EvalTasks);
        return new TaskEvaluation(tokenizer, [.. tasks.Select(t => (t, MultipleChoiceFile.Read(t.File, t.Format)))], config.EvalTasksLimit);
    }

    /// <summary>Scores <paramref name="model"/> (any family: see <see cref="MultipleChoiceScorer"/>) on every task: acc_norm per task, and "core".</summary>
    // an encoder's tasks are scored by masking the choice's tokens
    int? MaskToken(Models.Transformer.TransformerConfig config) =>
        !config.Causal && _tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Mask, out int mask) ? mask : null;

    public IReadOnlyDictionary<string, float> Run(ITrainableModel model)
    {
        var scorer = model switch
        {
            TransformerTrainableModel single => new MultipleChoiceScorer(single.Model, maskToken: MaskToken(single.Model.Config)),
            EncoderDecoderTrainableModel t5 => new MultipleChoiceScorer(t5.Model),
            _ => throw new InvalidOperationException($"evalTasks needs a transformer to score; a {model.GetType().Name} cannot"),
        };
        var results = _tasks.Select(t => MultipleChoiceEval.Run(scorer, _tokenizer, t.Task, t.Examples, _limit)).ToList();
        var scores = results.ToDictionary(r => r.Task, r => (float)r.AccuracyNorm);
        scores[CoreName] = (float)new CoreResult(results).Core;
        return scores;
    }
}
