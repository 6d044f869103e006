using System.Text.Json;
using System.Text.Json.Serialization;

namespace LmForge.Training.Metrics;

/// <summary>
/// The run's metrics as JSONL, one <see cref="MetricsRecord"/> per line, flushed every line so a crash loses nothing
/// already printed. Reopening for a resumed run drops the records after the checkpoint's step, which will be redone.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    readonly StreamWriter _writer;
    readonly List<MetricsRecord> _records;

    MetricsLog(string path, List<MetricsRecord> records)
    {
        Path = path;
        _records = records;
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string Path { get; }

    public IReadOnlyList<MetricsRecord> Records => _records;

    /// <summary>Starts a new log at <paramref name="path"/>, replacing any old one.</summary>
    public static MetricsLog Create(string path)
    {
        File.WriteAllText(path, "");
        return new MetricsLog(path, []);
    }

    /// <summary>Continues the log of a run resumed at <paramref name="resumedStep"/>: keeps records with Step &lt; resumedStep.</summary>
    public static MetricsLog Continue(string path, int resumedStep)
    {
        var kept = File.Exists(path) ? Read(path).Where(r => r.Step < resumedStep).ToList() : [];
        string temporary = path + ".tmp";
        File.WriteAllLines(temporary, kept.Select(r => JsonSerializer.Serialize(r, Options)));
        File.Move(temporary, path, overwrite: true);
        return new MetricsLog(path, kept);
    }

    public static List<MetricsRecord> Read(string path)
    {
        var records = new List<MetricsRecord>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            try
            {
                records.Add(JsonSerializer.Deserialize<MetricsRecord>(line, Options)
                    ?? throw new InvalidDataException($"{path}:{lineNumber}: null metrics record"));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: not a metrics record ({e.Message.Split('\n')[0]})");
            }
        }
        return records;
    }

    public void Append(MetricsRecord record)
    {
        _records.Add(record);
        _writer.WriteLine(JsonSerializer.Serialize(record, Options));
    }

    public void Dispose() => _writer.Dispose();
}
