using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests;

/// <summary>A temporary directory per test, deleted afterwards, and a helper that runs a step as one task.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lmforge-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class StepRunner
{
    public static (List<Document> Documents, StepStats Stats, List<string> Log) Run(IPipelineStep step, IEnumerable<Document>? input = null)
    {
        var log = new List<string>();
        var context = new TaskContext(0, 1, new PipelineStats()) { Log = log.Add };
        var output = step.Run(input ?? [], context).ToList();
        return (output, context.Stats.For(step.Name), log);
    }

    public static long Counter(this StepStats stats, string name) => stats.Counters.GetValueOrDefault(name);

    /// <summary>Deterministic record ids for WARC files written by tests.</summary>
    public static Func<Guid> SeededIds(int seed = 20230828)
    {
        var random = new Random(seed);
        return () =>
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            return new Guid(bytes);
        };
    }
}
