namespace LmForge.Data.Pipeline;

/// <summary>
/// One stage of a data recipe (reader, extractor, filter, deduplicator, anonymizer, writer). A step consumes the
/// stream of the step before it and yields its own; readers ignore their input and produce documents from the
/// share of their files that belongs to context.Rank out of context.WorldSize.
/// </summary>
public interface IPipelineStep
{
    /// <summary>The name under which the step's counts appear in the stats file.</summary>
    string Name { get; }

    IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context);
}
