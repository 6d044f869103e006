using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization;

namespace LmForge.Data.Writers;

/// <summary>
/// Writes the documents reaching it to one JSONL shard per task, <c>{path}/{rank:00000}.jsonl.gz</c> (or .jsonl),
/// and passes them on unchanged. The shard appears under its final name only when the task's stream has ended;
/// an interrupted task leaves at most a ".tmp" file, which readers ignore.
/// Recipe: <c>{"type": "jsonl_writer", "path": "clean/", "compress": true}</c>. The output feeds
/// <c>lmforge tokenize</c> (JSONL with "text").
/// </summary>
[RecipeStep("jsonl_writer")]
public sealed class JsonlWriter : IPipelineStep, IWritesFiles
{
    public JsonlWriter(StepParameters parameters)
    {
        OutputPath = parameters.GetPath("path");
        Compress = parameters.GetBool("compress", true);
        FilePrefix = parameters.GetString("file_prefix", "")!;
        if (FilePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || FilePrefix.Contains('/', StringComparison.Ordinal))
            throw parameters.Invalid("file_prefix", $"expected a file name prefix without path separators, got '{UntrustedText.Excerpt(FilePrefix)}'");
    }

    public JsonlWriter(string outputPath, bool compress = true)
    {
        OutputPath = Path.GetFullPath(outputPath);
        Compress = compress;
    }

    public string Name => "jsonl_writer";

    public string OutputPath { get; }

    public bool Compress { get; }

    public string FilePrefix { get; init; } = "";

    public string ShardPath(int rank) => Path.Combine(OutputPath, $"{FilePrefix}{rank:D5}.jsonl{(Compress ? ".gz" : "")}");

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        using var shard = new JsonlShardWriter(ShardPath(context.Rank), Compress);
        foreach (var document in documents)
        {
            stats.Received(document);
            shard.Write(document);
            stats.Kept(document);
            yield return document;
        }
        shard.Complete();
        stats.Count("files_written");
    }
}
