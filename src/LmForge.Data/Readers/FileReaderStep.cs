using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Readers;

/// <summary>
/// Common part of the readers: parameters <c>path</c> (file or directory) and <c>glob</c>, the task's share of the
/// sorted file list, and per-file counts. A file that cannot be opened is counted and logged, never fatal.
/// </summary>
public abstract class FileReaderStep : IPipelineStep, IReadsFiles
{
    protected FileReaderStep(StepParameters parameters, string defaultGlob)
    {
        InputPath = parameters.GetPath("path");
        Glob = parameters.GetString("glob", defaultGlob)!;
        Limit = parameters.GetLong("limit", long.MaxValue);
        if (Limit <= 0) throw parameters.Invalid("limit", $"expected a positive number of documents per task, got {Limit}");
    }

    protected FileReaderStep(string inputPath, string glob)
    {
        InputPath = Path.GetFullPath(inputPath);
        Glob = glob;
        Limit = long.MaxValue;
    }

    public abstract string Name { get; }

    public string InputPath { get; }

    public string Glob { get; }

    /// <summary>At most this many documents per task (for trying a recipe on a sample).</summary>
    public long Limit { get; init; }

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        var files = InputFiles.List(InputPath, Glob);
        long produced = 0;
        foreach (var file in context.OwnShare(files))
        {
            stats.Count("files");
            if (new FileInfo(file).Length == 0)
            {
                stats.Count("empty_file");
                context.Log?.Invoke($"{Name}: {file}: empty file");
                continue;
            }
            long before = stats.DocumentsKept;
            foreach (var document in ReadFile(file, stats, context))
            {
                stats.Received(document);
                stats.Kept(document);
                context.Progress.AddDocuments(1);
                yield return document;
                if (++produced >= Limit) yield break;
            }
            if (stats.DocumentsKept == before)
            {
                stats.Count("file_without_documents");
                context.Log?.Invoke($"{Name}: {file}: no document could be read from this file");
            }
        }
    }

    /// <summary>Yields the documents of one file; skipped records go to stats counters with a reason.</summary>
    protected abstract IEnumerable<Document> ReadFile(string path, StepStats stats, TaskContext context);

    /// <summary>Counts a skip under reason and logs it with where it happened.</summary>
    protected void Skip(StepStats stats, TaskContext context, string reason, string detail)
    {
        stats.Count("skipped_" + reason);
        context.Log?.Invoke($"{Name}: {reason}: {detail}");
    }
}
