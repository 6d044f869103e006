namespace LmForge.Data.Pipeline;

/// <summary>
/// Base of every keep-or-drop stage: Reject returns null to keep a document, or the reason (a short rule name such
/// as "gopher_short_document") to drop it. Counting per reason is done here once for all filters.
/// </summary>
public abstract class DocumentFilter : IPipelineStep
{
    public abstract string Name { get; }

    protected abstract string? Reject(Document document);

    /// <summary>This step's stats while Run is going (steps are built per task), for counters a filter keeps.</summary>
    protected StepStats? Stats { get; private set; }

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = Stats = context.Stats.For(Name);
        foreach (var document in documents)
        {
            stats.Received(document);
            var reason = Reject(document);
            if (reason is null)
            {
                stats.Kept(document);
                yield return document;
            }
            else
            {
                stats.Removed(document, reason);
                context.RemovedDocumentSink?.Invoke(Name, reason, document);
            }
        }
    }
}
