
namespace LmForge.Tokenization.Corpus;

/// <summary>
/// Opens an input file, decompressing it when it starts with the gzip magic bytes (1F 8B), and reports a gzip
/// file that ends early: .NET's <see cref="GZipStream"/> returns end-of-stream without an error when the
/// compressed data stops mid-member, so a cut file would otherwise read as a shorter complete one.
/// </summary>
public static class GzipInput
{
    /// <summary>True when the file starts with the gzip magic bytes.</summary>
    public static bool IsGzipFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> magic = stackalloc byte[2];
        return file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    /// <summary>
    /// The file's bytes, decompressed when it is gzip (any number of members). Reading a gzip file that ends
    /// before its last member's trailer throws an <see cref="InvalidDataException"/> for which <see cref="IsTruncation"/> is true; corrupt data throws
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    public static Stream Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Span<byte> magic = stackalloc byte[2];
        int n = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return n == 2 && magic[0] == 0x1F && magic[1] == 0x8B ? new GzipInputStream(path, file) : file;
    }

    internal const string TruncatedKey = "LmForge.GzipTruncatedAt";

    /// <summary>True for the error <see cref="Open"/>'s stream throws when the gzip file ends early.</summary>
    public static bool IsTruncation(Exception e) => e is InvalidDataException && e.Data.Contains(TruncatedKey);

    /// <summary>The compressed bytes consumed so far of a stream from <see cref="Open"/> (for progress).</summary>
    public static long CompressedPosition(Stream stream) => stream is GzipInputStream gzip ? gzip.CompressedPosition : stream.Position;
}

/// <summary>Builds the error for a gzip file that ends before its last member is complete.</summary>
internal static class GzipTruncated
{
    public static InvalidDataException Error(string path, long endedAt)
    {
        var e = new InvalidDataException($"{path}: gzip stream is truncated (ended at compressed byte {endedAt})");
        e.Data[GzipInput.TruncatedKey] = endedAt;
        return e;
    }
}
