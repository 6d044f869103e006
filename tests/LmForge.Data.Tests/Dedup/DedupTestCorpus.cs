using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Dedup;

/// <summary>Seeded synthetic pages: unique ones, exact copies (re-cased, re-spaced) and near copies (new date and footer).</summary>
internal sealed class DedupTestCorpus
{
    public List<Document> Documents { get; } = [];
    /// <summary>For each document, the id of the page it copies (itself for an original).</summary>
    public Dictionary<string, string> Origin { get; } = [];

    public DedupTestCorpus(int originals, int exactCopies, int nearCopies, int seed = 20230828)
    {
        var random = new Random(seed);
        var vocabulary = Enumerable.Range(0, 20_000).Select(_ => RandomWord(random)).Distinct().ToArray();
        var pages = new List<(string Id, string Body)>();
        for (int i = 0; i < originals; i++)
        {
            var body = string.Join(' ', Enumerable.Range(0, 150).Select(_ => vocabulary[random.Next(vocabulary.Length)]));
            pages.Add(($"page{i}", body));
            Add($"page{i}", $"page{i}", body + "\nPosted on 12 March 2021 by admin. All rights reserved.");
        }
        for (int i = 0; i < exactCopies; i++)
        {
            var (id, body) = pages[random.Next(pages.Count)];
            Add($"exact{i}", id, body.ToUpperInvariant().Replace(" ", "  \t") + "\n\nPosted on 12 March 2021 by admin -- all rights reserved!");
        }
        for (int i = 0; i < nearCopies; i++)
        {
            var (id, body) = pages[random.Next(pages.Count)];
            Add($"near{i}", id, body + $"\nUpdated {random.Next(1, 28)} June 2024 by {RandomWord(random)}. Share this page.");
        }
        // Shuffle so copies land in other tasks than their originals, before or after them.
        for (int i = Documents.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (Documents[i], Documents[j]) = (Documents[j], Documents[i]);
        }
    }

    private void Add(string id, string origin, string text)
    {
        Documents.Add(new Document(id, text));
        Origin[id] = origin;
    }

    private static string RandomWord(Random random)
    {
        var chars = new char[random.Next(3, 9)];
        for (int i = 0; i < chars.Length; i++) chars[i] = (char)('a' + random.Next(26));
        return new string(chars);
    }

    /// <summary>Runs one stage as `tasks` tasks, task r reading every tasks-th document from r; returns each task's output.</summary>
    public static List<Document> RunTasks(IPipelineStep step, IReadOnlyList<Document> documents, int tasks, PipelineStats? stats = null)
    {
        var kept = new List<Document>();
        stats ??= new PipelineStats();
        for (int rank = 0; rank < tasks; rank++)
        {
            var context = new TaskContext(rank, tasks, stats);
            kept.AddRange(step.Run(context.OwnShare(documents), context));
        }
        return kept;
    }
}
