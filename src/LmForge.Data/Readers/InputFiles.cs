using System.IO.Enumeration;
using LmForge.Tokenization.Corpus;

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

    /// <summary>
    /// Opens a file for reading, decompressing it when it starts with the gzip magic bytes. Reading a gzip file
    /// that ends early throws an <see cref="InvalidDataException"/> for which <see cref="IsGzipTruncation"/> is true.
    /// </summary>
    public static Stream OpenMaybeGzip(string path) => GzipInput.Open(path);

    /// <summary>True for the error a stream from <see cref="OpenMaybeGzip"/> throws when its gzip file ends early.</summary>
    public static bool IsGzipTruncation(Exception e) => GzipInput.IsTruncation(e);
}
