using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LmForge.Tokenization.Saving;

/// <summary>
/// Writes a file so that its final name only ever holds complete contents: the bytes go to a temporary name unique to
/// this process and call ("{path}.{pid}-{n}.tmp", which input listings ignore), are flushed to disk, and the file is
/// then renamed into place. Tokenizers, completion markers, stats and metrics rely on this. On failure the temporary
/// file is deleted and the target is left as it was; one a killed process left (its process is gone) is deleted by
/// the next write of the same target.
/// </summary>
public static class AtomicFile
{
    private static long s_sequence;

    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        CreateDirectoryFor(full);
        RemoveStaleTemporaries(full);
        string temporary = $"{full}.{Environment.ProcessId}-{Interlocked.Increment(ref s_sequence)}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    // The file's directory, created if needed; what stands in the way is said plainly (.NET's own messages name the wrong
    // thing: "Could not find file '/proc/x'" for a directory it may not create, "already exists" for a file in its place).
    private static void CreateDirectoryFor(string full)
    {
        string directory = Path.GetDirectoryName(full)!;
        for (string? d = directory; !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
        {
            if (File.Exists(d)) throw new IOException($"{full}: cannot write it: {d} is a file, not a directory");
            if (Directory.Exists(d)) break;
        }
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{full}: cannot write it: its directory {directory} cannot be created here ({e.Message.ReplaceLineEndings(" ")}); choose another output path");
        }
    }

    // "{name}.{pid}-{n}.tmp" files of a process that no longer runs: a kill mid-write leaves them, no finally runs.
    private static void RemoveStaleTemporaries(string full)
    {
        string name = Path.GetFileName(full);
        foreach (string file in Directory.EnumerateFiles(Path.GetDirectoryName(full)!, name + ".*.tmp"))
        {
            var match = Regex.Match(Path.GetFileName(file)[(name.Length + 1)..], "^([0-9]{1,9})-[0-9]+\\.tmp$", RegexOptions.CultureInvariant);
            if (!match.Success)
                continue;
            int pid = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            if (pid == Environment.ProcessId || IsRunning(pid))
                continue;
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // another run removed it first
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));

    /// <summary>
    /// Writes JSON Lines: for each item one object whose fields <paramref name="writeFields"/> writes, then "\n"; non-ASCII
    /// text is written as it is, not escaped. Returns the number of lines.
    /// </summary>
    public static int WriteJsonLines<T>(string path, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeFields)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(writeFields);
        int count = 0;
        Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            foreach (var item in items)
            {
                json.Reset(stream);
                json.WriteStartObject();
                writeFields(json, item);
                json.WriteEndObject();
                json.Flush();
                stream.WriteByte((byte)'\n');
                count++;
            }
        });
        return count;
    }

    /// <summary>Writes each line followed by "\n", in UTF-8 without a byte-order mark.</summary>
    public static void WriteLines(string path, IEnumerable<string> lines) => Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        foreach (string line in lines) writer.WriteLine(line);
    });
}
