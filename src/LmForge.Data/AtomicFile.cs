using System.Text;

namespace LmForge.Data;

/// <summary>
/// Writes a file so that its final name only ever holds complete contents: the bytes go to a temporary name unique to
/// this process and call ("{path}.{pid}-{n}.tmp", which input listings ignore), are flushed to disk, and the file is
/// then renamed into place. Completion markers and stats rely on this: resume trusts a marker that exists. On failure
/// the temporary file is deleted and the target is left as it was.
/// </summary>
internal static class AtomicFile
{
    private static long s_sequence;

    public static void Write(string path, Action<FileStream> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = $"{path}.{Environment.ProcessId}-{Interlocked.Increment(ref s_sequence)}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));
}
