using System.IO.Compression;
using System.Text;
using LmForge.Data.Readers;

namespace LmForge.Data.Tests.Readers;

public class JsonlAndTextReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Jsonl_reads_documents_and_counts_bad_lines_with_line_numbers(bool gzip)
    {
        using var dir = new TempDirectory();
        var lines = string.Join('\n',
            """{"id": "a", "text": "first", "url": "https://x.org/a", "lang": "en", "score": 0.5}""",
            """{"id": "b", "text": 42}""",
            """not json at all""",
            "",
            """{"id": 7, "text": "third", "metadata": {"dump": "CC-MAIN"}}""",
            """["an", "array"]""",
            """{"text": "no id"}""");
        var path = dir.File(gzip ? "d.jsonl.gz" : "d.jsonl");
        var bytes = Encoding.UTF8.GetBytes(lines);
        if (gzip)
        {
            using var file = File.Create(path);
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        else File.WriteAllBytes(path, bytes);

        var (docs, stats, log) = StepRunner.Run(new JsonlReader(path));
        Assert.Equal(["a", "7", "d.jsonl" + (gzip ? ".gz" : "") + ":7"], docs.Select(d => d.Id));
        Assert.Equal("https://x.org/a", docs[0].Url);
        Assert.Equal("en", docs[0].Metadata["lang"]);
        Assert.Equal(0.5, docs[0].Metadata["score"]);
        Assert.Equal("CC-MAIN", docs[1].Metadata["dump"]);
        Assert.Equal(3, stats.Counter("skipped_bad_json_line"));
        Assert.Contains(log, l => l.Contains(":2:", StringComparison.Ordinal) && l.Contains("\"text\"", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains(":3:", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains(":6:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Jsonl_lines_over_the_cap_are_skipped_counted_and_never_held_whole(bool gzip)
    {
        using var dir = new TempDirectory();
        string big = new('x', 3_000_000);
        var text = "{\"id\": \"a\", \"text\": \"first\"}\r\n"
            + $"{{\"id\": \"big\", \"text\": \"{big}\"}}\r\n"
            + "{\"id\": \"b\", \"text\": \"second\"}\r"
            + "{\"id\": \"c\", \"text\": \"third\"}\n"
            + big; // a last line without its line break, as a file that has none
        var path = dir.File(gzip ? "big.jsonl.gz" : "big.jsonl");
        var bytes = Encoding.UTF8.GetBytes(text);
        if (gzip)
        {
            using var file = File.Create(path);
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        else File.WriteAllBytes(path, bytes);

        var reader = new JsonlReader(path) { MaxDocumentBytes = 100_000 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (docs, stats, log) = StepRunner.Run(reader);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(["a", "b", "c"], docs.Select(d => d.Id));
        Assert.Equal(2, stats.Counter("skipped_document_too_large"));
        Assert.Contains(log, l => l.Contains(path + ":2:", StringComparison.Ordinal) && l.Contains("100000", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains(path + ":5:", StringComparison.Ordinal));
        Assert.True(allocated < 4 << 20, $"{allocated:N0} bytes allocated reading 3,000,000-character lines under a 100,000 cap");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Text_files_over_the_cap_are_skipped_and_counted(bool gzip)
    {
        using var dir = new TempDirectory();
        var bytes = Encoding.UTF8.GetBytes(new string('y', 200_000));
        var big = dir.File(gzip ? "big.txt.gz" : "big.txt");
        if (gzip)
        {
            using var file = File.Create(big);
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        else File.WriteAllBytes(big, bytes);
        File.WriteAllText(dir.File("small.txt"), "A small book.");
        var (docs, stats, log) = StepRunner.Run(new PlainTextReader(dir.Path) { MaxDocumentBytes = 100_000 });
        Assert.Equal("small.txt", Assert.Single(docs).Id);
        Assert.Equal(1, stats.Counter("skipped_document_too_large"));
        Assert.Contains(log, l => l.Contains(big, StringComparison.Ordinal) && l.Contains("100000", StringComparison.Ordinal));
    }

    [Fact]
    public void Jsonl_truncated_gzip_keeps_lines_before_the_damage()
    {
        // Cut just after a sync flush that follows line 1000: the cut file decompresses to 1000 whole lines and
        // GZipStream alone reports no error, so only the missing gzip trailer shows the file is incomplete.
        using var dir = new TempDirectory();
        var path = dir.File("t.jsonl.gz");
        int flushedAt = 0;
        using (var memory = new MemoryStream())
        {
            using (var z = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
            {
                for (int i = 0; i < 2000; i++)
                {
                    z.Write(Encoding.UTF8.GetBytes($"{{\"id\":\"{i}\",\"text\":\"document number {i} {new string('z', i % 50)}\"}}\n"));
                    if (i == 999)
                    {
                        z.Flush();
                        flushedAt = (int)memory.Length;
                    }
                }
            }
            File.WriteAllBytes(path, memory.ToArray()[..flushedAt]);
        }
        var (docs, stats, log) = StepRunner.Run(new JsonlReader(path));
        Assert.Equal(1000, docs.Count);
        Assert.Equal("999", docs[^1].Id);
        Assert.Equal(1, stats.Counter("skipped_gzip_truncated"));
        Assert.Equal(0, stats.Counter("skipped_bad_json_line"));
        Assert.Contains(log, l => l.Contains($"{path}: gzip stream is truncated (ended at compressed byte {flushedAt})", StringComparison.Ordinal));
    }

    [Fact]
    public void Text_truncated_gzip_is_counted_not_read_as_complete()
    {
        using var dir = new TempDirectory();
        var path = dir.File("t.txt.gz");
        using (var memory = new MemoryStream())
        {
            using (var z = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
                z.Write(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 500).Select(i => $"Line {i}.\n"))));
            File.WriteAllBytes(path, memory.ToArray()[..^4]);
        }
        var (docs, stats, _) = StepRunner.Run(new PlainTextReader(path));
        Assert.Empty(docs);
        Assert.Equal(1, stats.Counter("skipped_gzip_truncated"));
    }

    [Fact]
    public void Jsonl_lone_surrogate_escape_becomes_replacement_character()
    {
        // Python's json.dumps writes "\ud83d" for an emoji cut in half: valid JSON that is no valid UTF-16 string.
        using var dir = new TempDirectory();
        var path = dir.File("s.jsonl");
        File.WriteAllText(path, string.Join('\n',
            """{"id": "a\ud83d", "text": "cut \ud83d", "url": "https://x.org/\ude00", "note": "\ud83d\ude00 \ud83d"}""",
            """{"id": "b", "text": "next"}"""));
        var (docs, stats, _) = StepRunner.Run(new JsonlReader(path));
        Assert.Equal(["a\uFFFD", "b"], docs.Select(d => d.Id));
        Assert.Equal("cut \uFFFD", docs[0].Text);
        Assert.Equal("https://x.org/\uFFFD", docs[0].Url);
        Assert.Equal("\U0001F600 \uFFFD", docs[0].Metadata["note"]);
        Assert.Equal(0, stats.Counter("skipped_bad_json_line"));
    }

    [Fact]
    public void Text_reader_reads_one_document_per_file_and_skips_invalid_utf8()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("sub"));
        File.WriteAllText(dir.File("a.txt"), "Alpha text.");
        File.WriteAllText(dir.File("sub/b.txt"), "Beta text.");
        File.WriteAllBytes(dir.File("bad.txt"), [0x41, 0xFF, 0xFE, 0x42]);
        File.WriteAllText(dir.File("ignored.md"), "not matched by the glob");
        var (docs, stats, _) = StepRunner.Run(new PlainTextReader(dir.Path));
        Assert.Equal(["a.txt", "sub/b.txt"], docs.Select(d => d.Id));
        Assert.Equal("Beta text.", docs[1].Text);
        Assert.Equal(1, stats.Counter("skipped_undecodable"));
    }
}
