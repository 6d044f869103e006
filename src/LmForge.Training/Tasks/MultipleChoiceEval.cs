using LmForge.Tokenization;

namespace LmForge.Training.Tasks;

/// <summary>
/// A task's accuracy: <see cref="Accuracy"/> (acc, the lowest summed loss is right), <see cref="AccuracyNorm"/>
/// (acc_norm, the lowest mean loss per token), over <see cref="Examples"/> examples whose chance of a random pick is
/// <see cref="RandomBaseline"/> (the mean of 1/k over them, k the choice count).
/// </summary>
public sealed record MultipleChoiceResult(string Task, int Examples, int Correct, int CorrectNorm, double RandomBaseline)
{
    public double Accuracy => (double)Correct / Examples;

    public double AccuracyNorm => (double)CorrectNorm / Examples;

    /// <summary>acc_norm centred on the random baseline, as CORE reports it: 0 is chance, 1 is every example right.</summary>
    public double Centered => Center(AccuracyNorm, RandomBaseline);

    /// <summary>(accuracy − baseline) / (1 − baseline).</summary>
    public static double Center(double accuracy, double baseline) => (accuracy - baseline) / (1 - baseline);

    public static MultipleChoiceResult Summarize(string task, IReadOnlyList<ExampleScore> scores)
    {
        if (scores.Count == 0) throw new ArgumentException($"task {task}: no examples were scored");
        return new MultipleChoiceResult(task, scores.Count, scores.Count(s => s.PickSum == s.Answer), scores.Count(s => s.PickMean == s.Answer),
            scores.Average(s => 1.0 / s.Choices.Count));
    }
}

/// <summary>Every task's result and CORE: the mean of their centred accuracies.</summary>
public sealed record CoreResult(IReadOnlyList<MultipleChoiceResult> Tasks)
{
    public double Core => Tasks.Average(t => t.Centered);
}

/// <summary>How far a task has got: <see cref="Done"/> of its <see cref="Total"/> examples scored.</summary>
public readonly record struct MultipleChoiceProgress(string Task, int Done, int Total);

/// <summary>
/// Multiple-choice evaluation the way llm.c (HellaSwag) and nanochat (CORE) score it: each example's context (after
/// its few-shot examples) and each choice (after the delimiter) are encoded separately, and the
/// <see cref="MultipleChoiceScorer"/> ranks the choices by their loss. Callable from a trainer with the model it trains.
/// </summary>
public static class MultipleChoiceEval
{
    /// <summary>The seed of the few-shot draws.</summary>
    public const ulong DefaultSeed = 1234;

    /// <summary>Runs one task on its file's first <paramref name="limit"/> examples (0: all).</summary>
    public static MultipleChoiceResult Run(MultipleChoiceScorer scorer, BpeTokenizer tokenizer, MultipleChoiceTask task, int limit = 0,
        IProgress<MultipleChoiceProgress>? progress = null, ulong seed = DefaultSeed) =>
        Run(scorer, tokenizer, task, MultipleChoiceFile.Read(task.File, task.Format), limit, progress, seed);

    /// <summary>Runs one task on examples already read (the few-shot examples are drawn from all of them).</summary>
    public static MultipleChoiceResult Run(MultipleChoiceScorer scorer, BpeTokenizer tokenizer, MultipleChoiceTask task, IReadOnlyList<MultipleChoiceExample> examples,
        int limit = 0, IProgress<MultipleChoiceProgress>? progress = null, ulong seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (limit < 0) throw new ArgumentOutOfRangeException(nameof(limit), $"limit {limit} is invalid; expected 0 (all) or a number of examples");
        if (task.FewShot > 0 && task.FewShot > examples.Count - 1)
            throw new ArgumentException($"{task.File}: task {task.Name} asks for {task.FewShot} few-shot examples, but the file has {examples.Count} examples ({examples.Count - 1} besides the scored one)");
        int count = limit > 0 ? Math.Min(limit, examples.Count) : examples.Count;
        var tokenized = new TokenizedExample[count];
        for (int i = 0; i < count; i++)
        {
            var rendered = Render(examples, i, task.FewShot, task.ContinuationDelimiter, seed);
            tokenized[i] = new TokenizedExample(tokenizer.EncodeOrdinary(rendered.Context), rendered.Choices.Select(tokenizer.EncodeOrdinary).ToArray(), rendered.Answer);
        }
        progress?.Report(new MultipleChoiceProgress(task.Name, 0, count));
        IProgress<int>? examplesDone = progress is null ? null : new Reporter(done => progress.Report(new MultipleChoiceProgress(task.Name, done, count)));
        IReadOnlyList<ExampleScore> scores;
        try
        {
            scores = scorer.Score(tokenized, examplesDone);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{task.File}: task {task.Name}, {e.Message}");
        }
        return MultipleChoiceResult.Summarize(task.Name, scores);
    }

    /// <summary>Runs every task of a list (CORE's aggregate).</summary>
    public static CoreResult RunAll(MultipleChoiceScorer scorer, BpeTokenizer tokenizer, IReadOnlyList<MultipleChoiceTask> tasks, int limit = 0,
        IProgress<MultipleChoiceProgress>? progress = null, ulong seed = DefaultSeed) =>
        new(tasks.Select(task => Run(scorer, tokenizer, task, limit, progress, seed)).ToArray());

    /// <summary>
    /// Example <paramref name="index"/> as the text the model reads: its few-shot examples (each context + delimiter +
    /// its right choice, joined by blank lines) and its context, then each choice as delimiter + choice.
    /// </summary>
    public static MultipleChoiceExample Render(IReadOnlyList<MultipleChoiceExample> examples, int index, int fewShot, string delimiter, ulong seed = DefaultSeed)
    {
        var example = examples[index];
        var choices = example.Choices.Select(c => delimiter + c).ToArray();
        if (fewShot == 0) return new MultipleChoiceExample(example.Context, choices, example.Answer);
        var shots = FewShotIndices(examples.Count, index, fewShot, seed).Select(i => examples[i].Context + delimiter + examples[i].Choices[examples[i].Answer]);
        return new MultipleChoiceExample(string.Join("\n\n", shots) + "\n\n" + example.Context, choices, example.Answer);
    }

    /// <summary>
    /// The few-shot examples of example <paramref name="index"/>: <paramref name="count"/> distinct indices of the
    /// file's <paramref name="total"/> examples, never <paramref name="index"/>, drawn by a stream of the seed and the
    /// index alone (the same whatever else is scored).
    /// </summary>
    public static int[] FewShotIndices(int total, int index, int count, ulong seed = DefaultSeed)
    {
        if (count > total - 1) throw new ArgumentException($"{count} few-shot examples asked of {total - 1} besides the scored one");
        var random = CounterRandom.Derive(seed, (ulong)index);
        var chosen = new int[count];
        if (count * 2 > total)
        {
            // many of few: shuffle the others and take the first count
            var others = Enumerable.Range(0, total).Where(i => i != index).ToArray();
            random.Shuffle(others);
            Array.Copy(others, chosen, count);
            return chosen;
        }
        var seen = new HashSet<int> { index };
        for (int k = 0; k < count;)
        {
            int candidate = random.NextInt(total);
            if (seen.Add(candidate)) chosen[k++] = candidate;
        }
        return chosen;
    }

    sealed class Reporter(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
