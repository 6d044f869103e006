using System.Text.Json;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Execution;

/// <summary>Reads the stats JSON that <see cref="PipelineStats.ToJson"/> writes, and adds stats of tasks together.</summary>
public static class StatsFile
{
    public static PipelineStats Parse(string json, string where)
    {
        var stats = new PipelineStats();
        try
        {
            using var document = JsonDocument.Parse(json);
            foreach (var step in document.RootElement.EnumerateObject())
            {
                var s = stats.For(step.Name);
                var v = step.Value;
                s.DocumentsIn = v.GetProperty("documents_in").GetInt64();
                s.CharactersIn = v.GetProperty("characters_in").GetInt64();
                s.DocumentsKept = v.GetProperty("documents_kept").GetInt64();
                s.CharactersKept = v.GetProperty("characters_kept").GetInt64();
                s.DocumentsRemoved = v.GetProperty("documents_removed").GetInt64();
                s.CharactersRemoved = v.GetProperty("characters_removed").GetInt64();
                foreach (var r in v.GetProperty("removed_by_reason").EnumerateObject()) s.RemovedByReason[r.Name] = r.Value.GetInt64();
                foreach (var c in v.GetProperty("counters").EnumerateObject()) s.Counters[c.Name] = c.Value.GetInt64();
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{where}: not a stats file written by LmForge: {e.Message}", e);
        }
        return stats;
    }

    /// <summary>Adds every count of <paramref name="part"/> into <paramref name="total"/>.</summary>
    public static void Add(PipelineStats total, PipelineStats part)
    {
        foreach (var (name, s) in part.Steps)
        {
            var t = total.For(name);
            t.DocumentsIn += s.DocumentsIn;
            t.CharactersIn += s.CharactersIn;
            t.DocumentsKept += s.DocumentsKept;
            t.CharactersKept += s.CharactersKept;
            t.DocumentsRemoved += s.DocumentsRemoved;
            t.CharactersRemoved += s.CharactersRemoved;
            foreach (var (reason, n) in s.RemovedByReason) t.RemovedByReason.AddOrUpdate(reason, n, (_, m) => m + n);
            foreach (var (counter, n) in s.Counters) t.Counters.AddOrUpdate(counter, n, (_, m) => m + n);
        }
    }
}
