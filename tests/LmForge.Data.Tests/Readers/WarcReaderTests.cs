using System.IO.Compression;
using System.Text;
using LmForge.Data.Readers;
using LmForge.Data.Writers;

namespace LmForge.Data.Tests.Readers;

public class WarcReaderTests
{
    private static readonly DateTimeOffset Date = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static string Page(int i) => $"<html><head><title>Page {i}</title></head><body><p>Body of page number {i}.</p></body></html>";

    private static void WriteSample(string path, bool gzip, int pages = 5)
    {
        using var file = File.Create(path);
        using var writer = new WarcWriter(file, gzip, StepRunner.SeededIds());
        writer.WriteWarcinfo(Date, "software: LmForge tests\r\n");
        for (int i = 0; i < pages; i++) writer.WriteResponse($"https://example.org/{i}", Date, Encoding.UTF8.GetBytes(Page(i)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_html_responses_and_skips_other_records(bool gzip)
    {
        using var dir = new TempDirectory();
        var path = dir.File(gzip ? "a.warc.gz" : "a.warc");
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, gzip, StepRunner.SeededIds()))
        {
            writer.WriteWarcinfo(Date, "software: tests\r\n");
            writer.WriteResponse("https://example.org/a", Date, Encoding.UTF8.GetBytes(Page(1)));
            writer.WriteRecord("request", "https://example.org/a", Date, "application/http; msgtype=request", "GET /a HTTP/1.1\r\n\r\n"u8.ToArray());
            writer.WriteResponse("https://example.org/img.png", Date, [0x89, 0x50, 0x4E, 0x47], "image/png");
            writer.WriteResponse("https://example.org/gone", Date, "<html>gone</html>"u8.ToArray(), status: 404);
            writer.WriteConversion("https://example.org/b", Date, "Already extracted text.");
        }
        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.Equal(["https://example.org/a", "https://example.org/b"], docs.Select(d => d.Url));
        Assert.Equal(Page(1), docs[0].Text);
        Assert.Equal("Already extracted text.", docs[1].Text);
        Assert.Equal("2024-05-01T12:00:00Z", docs[0].Metadata["date"]);
        Assert.Equal(36, docs[0].Id.Length); // a bare GUID, brackets and urn:uuid: removed
        Assert.Equal(6, stats.Counter("records"));
        Assert.Equal(1, stats.Counter("skipped_not_html"));
        Assert.Equal(1, stats.Counter("skipped_http_status_not_200"));
        Assert.Equal(1, stats.Counter("skipped_warc_type_request"));
        Assert.Equal(1, stats.Counter("skipped_warc_type_warcinfo"));
        Assert.Equal(2, stats.DocumentsKept);
    }

    [Fact]
    public void Reads_handwritten_warc_1_0_with_bracketed_uri_and_lf_http_headers()
    {
        // Written by hand from the WARC/1.0 specification (ISO 28500:2009), not by our writer.
        var body = "<html><body>caf\u00e9</body></html>";
        var http = "HTTP/1.0 200 OK\nContent-Type: text/html; charset=utf-8\n\n" + body;
        int length = Encoding.UTF8.GetByteCount(http);
        var warc = "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: <http://www.archive.org/>\r\n"
            + "WARC-Date: 2008-04-30T20:48:25Z\r\nWARC-Record-ID: <urn:uuid:ff728363-2d5f-4f5f-b832-9552de1a6037>\r\n"
            + $"Content-Type: application/http;msgtype=response\r\nContent-Length: {length}\r\n\r\n{http}\r\n\r\n";
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("old.warc"), warc);
        var (docs, _, _) = StepRunner.Run(new WarcReader(dir.File("old.warc")));
        var doc = Assert.Single(docs);
        Assert.Equal("http://www.archive.org/", doc.Url);
        Assert.Equal("ff728363-2d5f-4f5f-b832-9552de1a6037", doc.Id);
        Assert.Equal(body, doc.Text);
    }

    [Fact]
    public void Truncated_last_record_is_counted_and_earlier_records_kept()
    {
        using var dir = new TempDirectory();
        var path = dir.File("t.warc");
        WriteSample(path, gzip: false);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 40)]);
        var (docs, stats, log) = StepRunner.Run(new WarcReader(path));
        Assert.Equal(4, docs.Count);
        Assert.Equal(1, stats.Counter("skipped_truncated_record"));
        Assert.Contains(log, l => l.Contains("truncated_record", StringComparison.Ordinal) && l.Contains(path, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(+25)]
    [InlineData(-25)]
    public void Wrong_content_length_skips_that_record_only(int error)
    {
        using var dir = new TempDirectory();
        var path = dir.File("c.warc");
        WriteSample(path, gzip: false);
        // Change the third page's Content-Length (the WARC header line of the record whose URI ends in /2).
        var text = Encoding.UTF8.GetString(File.ReadAllBytes(path));
        int uri = text.IndexOf("https://example.org/2", StringComparison.Ordinal);
        int field = text.IndexOf("Content-Length: ", uri, StringComparison.Ordinal) + "Content-Length: ".Length;
        int end = text.IndexOf('\r', field);
        int length = int.Parse(text[field..end]);
        text = text[..field] + (length + error) + text[end..];
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.Equal(["https://example.org/0", "https://example.org/1", "https://example.org/3", "https://example.org/4"], docs.Select(d => d.Url));
        Assert.Equal(1, stats.Counter("skipped_bad_content_length"));
    }

    [Fact]
    public void Corrupt_gzip_member_is_skipped_and_reading_resumes_at_the_next_member()
    {
        using var dir = new TempDirectory();
        var path = dir.File("g.warc.gz");
        WriteSample(path, gzip: true, pages: 40);
        var bytes = File.ReadAllBytes(path);
        // Find the members (each record is one), then scramble the deflate data of member 20.
        var starts = new List<int>();
        for (int i = 0; i + 3 < bytes.Length; i++)
        {
            if (bytes[i] == 0x1F && bytes[i + 1] == 0x8B && bytes[i + 2] == 0x08 && bytes[i + 3] == 0) starts.Add(i);
        }
        Assert.Equal(41, starts.Count);
        var random = new Random(20230828);
        for (int i = starts[20] + 12; i < starts[21] - 8; i++) bytes[i] = (byte)random.Next(256);
        File.WriteAllBytes(path, bytes);

        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.True(stats.Counter("skipped_gzip_corrupt") >= 1);
        var urls = docs.Select(d => d.Url).ToList();
        Assert.Contains("https://example.org/0", urls);
        Assert.Contains("https://example.org/39", urls); // the rest of the file was not lost
        Assert.DoesNotContain("https://example.org/19", urls); // member 20 holds page 19 (member 0 is warcinfo)
        Assert.Equal(urls.Count, urls.Distinct().Count());
        Assert.True(urls.Count >= 30, $"only {urls.Count} of 39 intact pages read");
    }

    [Fact]
    public void Oversized_documents_are_capped_and_counted()
    {
        using var dir = new TempDirectory();
        var path = dir.File("big.warc");
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, false, StepRunner.SeededIds()))
        {
            writer.WriteResponse("https://example.org/big", Date, Encoding.UTF8.GetBytes("<p>" + new string('x', 5000) + "</p>"));
            writer.WriteResponse("https://example.org/small", Date, "<p>small</p>"u8.ToArray());
        }
        var (docs, stats, _) = StepRunner.Run(new WarcReader(path) { MaxDocumentBytes = 1000 });
        Assert.Equal("https://example.org/small", Assert.Single(docs).Url);
        Assert.Equal(1, stats.Counter("skipped_record_too_large") + stats.Counter("skipped_document_too_large"));
    }

    private static void WriteHttp(WarcWriter writer, string uri, string headers, byte[] body) =>
        writer.WriteRecord("response", uri, Date, "application/http; msgtype=response",
            [.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{headers}\r\n"), .. body]);

    [Theory]
    [InlineData("7FFFFFFF")]
    [InlineData("7FFFFFF6")] // + the body offset 10 = 2^31
    public void Huge_chunk_size_is_the_record_s_problem_not_the_task_s(string size)
    {
        using var dir = new TempDirectory();
        var path = dir.File("chunk.warc");
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, false, StepRunner.SeededIds()))
        {
            WriteHttp(writer, "https://example.org/huge", "Transfer-Encoding: chunked\r\n", Encoding.ASCII.GetBytes($"{size}\r\n<p>short</p>\r\n0\r\n\r\n"));
            WriteHttp(writer, "https://example.org/ok", "Transfer-Encoding: chunked\r\n", "5\r\n<p>ok\r\n4\r\n</p>\r\n0\r\n\r\n"u8.ToArray());
        }
        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.Equal(2, stats.Counter("records"));
        Assert.Equal("<p>ok</p>", docs.Single(d => d.Url == "https://example.org/ok").Text);
    }

    [Fact]
    public void Gzip_body_is_decompressed_only_up_to_the_cap_then_skipped_and_counted()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bomb.warc");
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write("<p>"u8);
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 64; i++) gzip.Write(zeros); // 64 MB from about 64 KB
        }
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, false, StepRunner.SeededIds()))
        {
            WriteHttp(writer, "https://example.org/bomb", "Content-Encoding: gzip\r\n", packed.ToArray());
            WriteHttp(writer, "https://example.org/ok", "", "<p>ok</p>"u8.ToArray());
        }
        var reader = new WarcReader(path) { MaxDocumentBytes = 100_000 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (docs, stats, log) = StepRunner.Run(reader);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("https://example.org/ok", Assert.Single(docs).Url);
        Assert.Equal(1, stats.Counter("skipped_document_too_large"));
        Assert.Contains(log, l => l.Contains("bomb.warc", StringComparison.Ordinal) && l.Contains("100000", StringComparison.Ordinal));
        Assert.True(allocated < 16 << 20, $"{allocated:N0} bytes allocated reading a 64 MB gzip body under a 100 KB cap");
    }

    [Fact]
    public void Empty_and_non_warc_files_are_counted_not_fatal()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("empty.warc"), []);
        File.WriteAllText(dir.File("junk.warc"), "this is not a WARC file\nat all\n");
        WriteSample(dir.File("ok.warc"), gzip: false, pages: 2);
        var (docs, stats, log) = StepRunner.Run(new WarcReader(dir.Path));
        Assert.Equal(2, docs.Count);
        Assert.Equal(1, stats.Counter("empty_file"));
        Assert.Equal(1, stats.Counter("skipped_not_a_warc_record"));
        Assert.Equal(1, stats.Counter("file_without_documents"));
        Assert.Contains(log, l => l.Contains("junk.warc", StringComparison.Ordinal));
    }

    [Fact]
    public void Declared_utf8_record_cut_mid_character_stays_utf8_and_is_counted()
    {
        using var dir = new TempDirectory();
        var path = dir.File("cut.warc");
        byte[] body = [.. Encoding.UTF8.GetBytes("<html><body><p>Caf\u00e9 \u65e5\u672c"), 0xE8, 0xAA]; // 語 = E8 AA 9E, cut
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, false, StepRunner.SeededIds()))
        {
            writer.WriteResponse("https://example.org/cut", Date, body);
        }
        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.Equal("<html><body><p>Caf\u00e9 \u65e5\u672c\uFFFD", Assert.Single(docs).Text);
        Assert.Equal(1, stats.Counter("charset_http_header"));
        Assert.Equal(1, stats.Counter("utf8_replaced_documents"));
        Assert.Equal(1, stats.Counter("utf8_replaced_sequences"));
    }

    [Fact]
    public void Binary_payload_declared_html_is_skipped_as_undecodable()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bin.warc");
        var random = new Random(20230828);
        var noise = new byte[4000];
        random.NextBytes(noise);
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, false, StepRunner.SeededIds()))
        {
            writer.WriteResponse("https://example.org/bin", Date, noise, "text/html");
        }
        var (docs, stats, _) = StepRunner.Run(new WarcReader(path));
        Assert.Empty(docs);
        Assert.Equal(1, stats.Counter("skipped_undecodable"));
    }

    [Fact]
    public void Missing_input_path_throws_naming_it()
    {
        var e = Assert.Throws<FileNotFoundException>(() => StepRunner.Run(new WarcReader("/nonexistent/crawl")));
        Assert.Contains("/nonexistent/crawl", e.Message, StringComparison.Ordinal);
    }
}
