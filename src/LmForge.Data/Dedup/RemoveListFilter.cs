using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Dedup;

/// <summary>
/// The last stage of both dedups: re-reads the task's documents (same share, same order as the signature stage) and
/// drops those whose index is in the task's remove lists. Fails if the input turns out shorter than the lists say.
/// </summary>
public abstract class RemoveListFilter : IPipelineStep
{
    public abstract string Name { get; }

    protected abstract string Reason { get; }

    protected abstract IReadOnlyList<string> RemoveListPaths(TaskContext context);

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        var remove = RemoveList.ReadAll(RemoveListPaths(context), context.Rank, context.WorldSize);
        int next = 0;
        uint index = 0;
        foreach (var document in documents)
        {
            stats.Received(document);
            if (next < remove.Length && remove[next] == index)
            {
                next++;
                stats.Removed(document, Reason);
                context.RemovedDocumentSink?.Invoke(Name, Reason, document);
            }
            else
            {
                stats.Kept(document);
                yield return document;
            }
            index++;
        }
        if (next < remove.Length)
            throw new InvalidDataException($"{Name}: task {context.Rank} read {index} documents but its remove list names document {remove[next]}; the input changed since the signature stage");
    }
}

/// <summary>MinHash dedup, stage 4 of 4: drops the near duplicates listed by minhash_cluster (reason "minhash_duplicate").</summary>
[RecipeStep("minhash_filter")]
public sealed class MinHashFilterStage(string folder) : RemoveListFilter
{
    public MinHashFilterStage(StepParameters parameters) : this(parameters.GetPath("folder")) { }

    public override string Name => "minhash_filter";

    protected override string Reason => "minhash_duplicate";

    protected override IReadOnlyList<string> RemoveListPaths(TaskContext context)
    {
        var path = MinHashClusterStage.RemovePath(folder, context.Rank);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; run the minhash_cluster stage first (with the same task count)", path);
        return [path];
    }
}
