using System.IO.Compression;
using System.IO.Enumeration;

namespace LmForge.Data.Readers;

/// <summary>The input files of a reader: one file, or the files under a directory matching a glob, sorted by path.</summary>
public static class InputFiles
{
    /// <summary>Lists the files; ".tmp" files (output of unfinished tasks) are never inputs.</summary>
    public static IReadOnlyList<string> List(string path, string glob, bool recursive = true)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: input path does not exist (expected a file or a directory)");
        var files = Directory.EnumerateFiles(path, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal) && FileSystemName.MatchesSimpleExpression(glob, Path.GetFileName(f)))
            .ToList();
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    /// <summary>Opens a file for reading, decompressing it when it starts with the gzip magic bytes.</summary>
    public static Stream OpenMaybeGzip(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        Span<byte> magic = stackalloc byte[2];
        int n = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return n == 2 && magic[0] == 0x1F && magic[1] == 0x8B ? new GZipStream(file, CompressionMode.Decompress) : file;
    }
}
