namespace LmForge.Training.Data;

/// <summary>
/// Which rows of every global batch a data-parallel rank serves: the global batch is <see cref="Ranks"/> × B rows in
/// the order one process would serve them, and rank r takes rows [r·B, r·B + B). So N ranks of batch B read exactly
/// the windows one process of batch N·B reads, each window once, and the assignment depends on nothing but the rank.
/// </summary>
public readonly record struct BatchShare(int Rank, int Ranks)
{
    /// <summary>One process serving whole batches.</summary>
    public static BatchShare Whole { get; } = new(0, 1);

    /// <summary>The first row of the global batch that this rank's batch of <paramref name="batchSize"/> rows holds.</summary>
    public int FirstRow(int batchSize) => Rank * batchSize;

    /// <summary>Rows in a global batch when each rank serves <paramref name="batchSize"/>.</summary>
    public int GlobalBatch(int batchSize) => Ranks * batchSize;

    public void Validate()
    {
        if (Ranks < 1 || Rank < 0 || Rank >= Ranks) throw new ArgumentOutOfRangeException(nameof(Rank), $"rank {Rank} of {Ranks}: expected 0 <= rank < ranks");
    }
}
