using System.Text.Json.Serialization;
using System.Text.Json;
using LmForge.Tokenization.Saving;

namespace LmForge.Training.Metrics;

/// <summary>
/// The run's metrics as JSONL, one <see cref="MetricsRecord"/> per line, flushed every line so a crash loses nothing
/// already printed. Reopening for a resumed run keeps the lines of the steps before the checkpoint's step as they are
/// and drops the rest (steps the resumed run redoes, and a line a kill cut short), so the file always holds one record
/// per step in order. A run resumed any number of times therefore logs what an uninterrupted run logs: every line is
/// byte for byte the same once its three wall-clock measurements are taken out (<see cref="WithoutTimings"/>).
/// </summary>
public sealed partial class MetricsLog : IDisposable
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
        // A run killed while writing a line leaves that last line half written: it is dropped (its step is redone).
        var kept = File.Exists(path) ? Read(path, skipUnreadableLastLine: true).Where(r => r.Step < resumedStep).ToList() : [];
        AtomicFile.WriteLines(path, kept.Select(r => JsonSerializer.Serialize(r, Options)));
        return new MetricsLog(path, kept);
    }

    /// <summary>
    /// The records of a metrics file. <paramref name="skipUnreadableLastLine"/>: ignore a last line that does not parse
    /// (a write cut short by a kill); an unreadable line anywhere else is always an error naming it.
    /// </summary>
    public static List<MetricsRecord> Read(string path, bool skipUnreadableLastLine = false)
    {
        var records = new List<MetricsRecord>();
        string[] lines = File.ReadAllLines(path);
        int last = Array.FindLastIndex(lines, line => line.Length > 0);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try
            {
                records.Add(JsonSerializer.Deserialize<MetricsRecord>(lines[i], Options)
                    ?? throw new InvalidDataException($"{path}:{i + 1}: null metrics record"));
            }
            catch (JsonException e) when (!(skipUnreadableLastLine && i == last))
            {
                throw new InvalidDataException($"{path}:{i + 1}: not a metrics record ({e.Message.Split('\n')[0]})");
            }
            catch (JsonException)
            {
                // The half-written last line of a killed run.
            }
        }
        return records;
    }

    /// <summary>
    /// A metrics line without its timing fields (tokensPerSecond, mfu, elapsedSeconds: measurements of this machine's
    /// speed, not of the training): what stays is the step, the losses, the learning rate, the gradient norm, the
    /// accuracy and the task scores, which a resumed run repeats byte for byte.
    /// </summary>
    public static string WithoutTimings(string line) => TimingFields().Replace(line, "");

    [System.Text.RegularExpressions.GeneratedRegex("\"(?:tokensPerSecond|mfu|elapsedSeconds)\":[^,}]*,?")]
    private static partial System.Text.RegularExpressions.Regex TimingFields();

    public void Append(MetricsRecord record)
    {
        _records.Add(record);
        _writer.WriteLine(JsonSerializer.Serialize(record, Options));
    }

    public void Dispose() => _writer.Dispose();
}
