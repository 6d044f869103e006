using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Execution;

/// <summary>One step of one stage in a run's summary, with its removals per rule (the recipe's rule names).</summary>
public sealed record SummaryStep(
    string Stage, string Step, long DocumentsIn, long CharactersIn, long DocumentsKept, long CharactersKept, long DocumentsRemoved,
    long CharactersRemoved, IReadOnlyList<(string Rule, long Documents)> RemovedByRule);

/// <summary>
/// What a recipe run did, for the table `lmforge data run` ends with: documents and characters read and written,
/// kept and removed per stage, step and rule, duplicates removed, PII replaced, languages found, and where the clean
/// output and the removed documents are.
/// </summary>
public sealed record RunSummary(
    long DocumentsRead, long CharactersRead, long DocumentsOut, long CharactersOut, IReadOnlyList<SummaryStep> Steps,
    long DuplicatesRemoved, long EmailsReplaced, long IpsReplaced, long DocumentsWithPii,
    IReadOnlyList<(string Language, long Documents)> Languages, string? CleanOutput, IReadOnlyList<string> RemovedDirectories)
{
    private static readonly string[] ReaderSteps = ["warc_reader", "jsonl_reader", "text_reader"];

    public static RunSummary From(Recipe recipe, ExecutionResult result)
    {
        var steps = new List<SummaryStep>();
        string? cleanOutput = null;
        var removedDirectories = new List<string>();
        foreach (var stage in recipe.Stages)
        {
            if (!result.StageStats.TryGetValue(stage.Name, out var stats)) continue;
            var order = stage.StepTypes.ToList();
            foreach (var (name, step) in stats.Steps.OrderBy(s => order.IndexOf(s.Key) is var i && i >= 0 ? i : int.MaxValue).ThenBy(s => s.Key, StringComparer.Ordinal))
            {
                steps.Add(new SummaryStep(stage.Name, name, step.DocumentsIn, step.CharactersIn, step.DocumentsKept, step.CharactersKept,
                    step.DocumentsRemoved, step.CharactersRemoved,
                    [.. step.RemovedByReason.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Select(r => (r.Key, r.Value))]));
            }
            foreach (var writer in stage.CreateSteps().OfType<IWritesFiles>()) cleanOutput = writer.OutputPath;
            if (stage.RemovedDirectory is { } removed && !removedDirectories.Contains(removed)) removedDirectories.Add(removed);
        }

        // Read: what the first stage's reader produced. Out: what the last stage wrote.
        var first = steps.FirstOrDefault(s => ReaderSteps.Contains(s.Step));
        var lastStage = recipe.Stages.LastOrDefault(s => result.StageStats.ContainsKey(s.Name))?.Name;
        var written = steps.LastOrDefault(s => s.Stage == lastStage && s.Step == "jsonl_writer");
        var all = result.StageStats.Values.SelectMany(s => s.Steps).ToList();
        long Counter(string step, string counter) => all.Where(s => s.Key == step).Sum(s => s.Value.Counters.GetValueOrDefault(counter));
        var languages = all.Where(s => s.Key == "language_filter").SelectMany(s => s.Value.Counters)
            .Where(c => c.Key.StartsWith("language_", StringComparison.Ordinal))
            .GroupBy(c => c.Key["language_".Length..]).Select(g => (g.Key, g.Sum(c => c.Value)))
            .OrderByDescending(l => l.Item2).ThenBy(l => l.Key, StringComparer.Ordinal).ToList();
        return new RunSummary(
            first?.DocumentsKept ?? 0, first?.CharactersKept ?? 0, written?.DocumentsKept ?? 0, written?.CharactersKept ?? 0, steps,
            steps.Where(s => IsDedup(s.Step)).Sum(s => s.DocumentsRemoved),
            Counter("pii_anonymizer", "emails_replaced"), Counter("pii_anonymizer", "ips_replaced"), Counter("pii_anonymizer", "documents_changed"),
            languages, written is null ? null : cleanOutput, removedDirectories);
    }

    private static bool IsDedup(string step) =>
        step.Contains("dedup", StringComparison.Ordinal) || step.StartsWith("minhash", StringComparison.Ordinal) || step == "remove_list_filter";
}
