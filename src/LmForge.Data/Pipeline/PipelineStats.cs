using System.Collections.Concurrent;
using System.Text.Json;

namespace LmForge.Data.Pipeline;

/// <summary>Counts per step: documents and characters received, kept and removed, and removals per reason.</summary>
public sealed class StepStats
{
    public long DocumentsIn;
    public long CharactersIn;
    public long DocumentsKept;
    public long CharactersKept;
    public long DocumentsRemoved;
    public long CharactersRemoved;
    public ConcurrentDictionary<string, long> RemovedByReason { get; } = new(StringComparer.Ordinal);
    /// <summary>Step-specific counters (records skipped for a reason, bytes read, ...).</summary>
    public ConcurrentDictionary<string, long> Counters { get; } = new(StringComparer.Ordinal);

    public void Received(Document document)
    {
        Interlocked.Increment(ref DocumentsIn);
        Interlocked.Add(ref CharactersIn, document.Text.Length);
    }

    public void Kept(Document document)
    {
        Interlocked.Increment(ref DocumentsKept);
        Interlocked.Add(ref CharactersKept, document.Text.Length);
    }

    public void Removed(Document document, string reason)
    {
        Interlocked.Increment(ref DocumentsRemoved);
        Interlocked.Add(ref CharactersRemoved, document.Text.Length);
        RemovedByReason.AddOrUpdate(reason, 1, static (_, n) => n + 1);
    }

    public void Count(string counter, long amount = 1) => Counters.AddOrUpdate(counter, amount, (_, n) => n + amount);
}

/// <summary>The stats of every step of one task, written as JSON beside the task's output.</summary>
public sealed class PipelineStats
{
    public ConcurrentDictionary<string, StepStats> Steps { get; } = new(StringComparer.Ordinal);

    public StepStats For(string stepName) => Steps.GetOrAdd(stepName, static _ => new StepStats());

    public string ToJson() => JsonSerializer.Serialize(
        Steps.OrderBy(s => s.Key, StringComparer.Ordinal).ToDictionary(s => s.Key, s => new
        {
            documents_in = s.Value.DocumentsIn,
            characters_in = s.Value.CharactersIn,
            documents_kept = s.Value.DocumentsKept,
            characters_kept = s.Value.CharactersKept,
            documents_removed = s.Value.DocumentsRemoved,
            characters_removed = s.Value.CharactersRemoved,
            removed_by_reason = s.Value.RemovedByReason.OrderBy(r => r.Key, StringComparer.Ordinal).ToDictionary(),
            counters = s.Value.Counters.OrderBy(r => r.Key, StringComparer.Ordinal).ToDictionary(),
        }),
        new JsonSerializerOptions { WriteIndented = true });
}
