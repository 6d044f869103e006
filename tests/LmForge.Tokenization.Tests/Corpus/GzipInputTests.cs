using System.IO.Compression;
using System.Text;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Tests.Corpus;

public sealed class GzipInputTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-gzip-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    static string Lines(string prefix, int count) =>
        string.Concat(Enumerable.Range(0, count).Select(i => $"{prefix} {i} {new string('z', i % 50)}\n"));

    /// <summary>A gzip member of <paramref name="first"/> then <paramref name="second"/>, and the compressed offset just after a sync flush between them.</summary>
    static (byte[] Bytes, int FlushedAt) Member(string first, string second)
    {
        using var memory = new MemoryStream();
        int flushedAt;
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(first));
            gzip.Flush();
            flushedAt = (int)memory.Length;
            gzip.Write(Encoding.UTF8.GetBytes(second));
        }
        return (memory.ToArray(), flushedAt);
    }

    string ReadAll(byte[] bytes)
    {
        string path = Path.Combine(directory, "f.gz");
        File.WriteAllBytes(path, bytes);
        using var reader = new StreamReader(GzipInput.Open(path));
        return reader.ReadToEnd();
    }

    [Fact]
    public void CompleteMultiMemberFile_ReadsEveryMember()
    {
        var (a, _) = Member(Lines("a", 3000), Lines("b", 10));
        var (b, _) = Member(Lines("c", 5), Lines("d", 4000));
        var (empty, _) = Member("", "");
        Assert.Equal(Lines("a", 3000) + Lines("b", 10) + Lines("c", 5) + Lines("d", 4000), ReadAll([.. a, .. empty, .. b]));
    }

    [Fact]
    public void PlainFile_IsReadAsIs()
    {
        Assert.Equal("plain text\n", ReadAll(Encoding.UTF8.GetBytes("plain text\n")));
    }

    [Fact]
    public void CutAfterSyncFlush_OnLineBoundary_IsTruncation()
    {
        var (a, _) = Member(Lines("a", 100), "");
        var (b, flushedAt) = Member(Lines("b", 3000), Lines("c", 3000));
        // The cut file decompresses to whole lines without any error from GZipStream itself.
        using (var plain = new GZipStream(new MemoryStream(b[..flushedAt]), CompressionMode.Decompress))
        using (var reader = new StreamReader(plain))
            Assert.Equal(Lines("b", 3000), reader.ReadToEnd());

        foreach (var cut in new[] { b[..flushedAt], [.. a, .. b[..flushedAt]], b[..^1], b[..^8], [.. a, .. b[..5]] })
        {
            var e = Assert.Throws<InvalidDataException>(() => ReadAll(cut));
            Assert.True(GzipInput.IsTruncation(e));
            Assert.Equal($"{Path.Combine(directory, "f.gz")}: gzip stream is truncated (ended at compressed byte {cut.Length})", e.Message);
        }
    }

    [Fact]
    public void TrailingGarbage_IsAnError()
    {
        var (a, _) = Member(Lines("a", 100), "");
        var e = Assert.Throws<InvalidDataException>(() => ReadAll([.. a, .. "junk!!!!!!!!"u8]));
        Assert.False(GzipInput.IsTruncation(e));
        Assert.Contains("are not a gzip member", e.Message, StringComparison.Ordinal);
    }
}
