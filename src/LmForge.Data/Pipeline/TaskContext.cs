namespace LmForge.Data.Pipeline;

/// <summary>What one task of a stage knows about itself: which share of the input it owns and where it reports.</summary>
public sealed class TaskContext
{
    public TaskContext(int rank, int worldSize, PipelineStats stats)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(worldSize, rank);
        Rank = rank;
        WorldSize = worldSize;
        Stats = stats;
    }

    public int Rank { get; }

    public int WorldSize { get; }

    public PipelineStats Stats { get; }

    /// <summary>When set, filters hand each removed document with the step name and reason here (to be written out).</summary>
    public Action<string, string, Document>? RemovedDocumentSink { get; init; }

    /// <summary>Where steps write one-line notes about skipped input (file, offset, reason); null discards them.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Live counters a scheduler reads to show progress (documents read, input bytes read).</summary>
    public TaskProgress Progress { get; init; } = new();

    /// <summary>Files of a sorted list that this task owns: every WorldSize-th one starting at Rank.</summary>
    public IEnumerable<T> OwnShare<T>(IReadOnlyList<T> items)
    {
        for (int i = Rank; i < items.Count; i += WorldSize) yield return items[i];
    }
}
