using System.IO.Compression;
using System.Text;
using LmForge.Data.Writers;

namespace LmForge.Data.Tests.EndToEnd;

/// <summary>
/// Real web pages for end-to-end tests: the Debian Reference in eight languages (HTML pages under
/// /usr/share/debian-reference, installed by tests/setup/data.sh), with Debian's own plain-text rendering of the
/// same book (debian-reference.{lang}.txt.gz) as an independent reference for what the pages say.
/// </summary>
internal static class DebianDocs
{
    public const string Directory = "/usr/share/debian-reference";
    public static readonly string[] Languages = ["en", "fr", "de", "ja", "es", "it", "pt", "zh-cn"];
    private static readonly DateTimeOffset CrawlDate = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);

    public static IReadOnlyList<string> Pages(string language)
    {
        if (!System.IO.Directory.Exists(Directory))
            throw new InvalidOperationException($"{Directory} is missing: run tests/setup/data.sh (installs debian-reference-*)");
        var pages = System.IO.Directory.GetFiles(Directory, $"*.{language}.html").Order(StringComparer.Ordinal).ToList();
        if (pages.Count == 0) throw new InvalidOperationException($"{Directory}: no *.{language}.html pages: run tests/setup/data.sh");
        return pages;
    }

    public static string Url(string page) => "https://www.debian.org/doc/manuals/debian-reference/" + Path.GetFileName(page);

    public static string BookText(string language)
    {
        using var z = new GZipStream(File.OpenRead(Path.Combine(Directory, $"debian-reference.{language}.txt.gz")), CompressionMode.Decompress);
        return new StreamReader(z, Encoding.UTF8).ReadToEnd();
    }

    /// <summary>Writes pages as response records spread over <paramref name="files"/> gzip-per-record WARC files.</summary>
    public static void WriteWarcs(string directory, IReadOnlyList<(string Url, byte[] Html)> pages, int files)
    {
        System.IO.Directory.CreateDirectory(directory);
        var ids = StepRunner.SeededIds();
        var writers = Enumerable.Range(0, files).Select(i =>
        {
            var stream = File.Create(Path.Combine(directory, $"crawl-{i:D2}.warc.gz"));
            return (stream, writer: new WarcWriter(stream, gzipPerRecord: true, ids));
        }).ToList();
        for (int i = 0; i < pages.Count; i++)
        {
            var (stream, writer) = writers[i % files];
            if (i < files) writer.WriteWarcinfo(CrawlDate, "software: LmForge end-to-end test\r\n");
            writer.WriteResponse(pages[i].Url, CrawlDate, pages[i].Html, "text/html; charset=UTF-8");
            writer.WriteRecord("request", pages[i].Url, CrawlDate, "application/http; msgtype=request", Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: www.debian.org\r\n\r\n"));
        }
        foreach (var (stream, writer) in writers)
        {
            writer.Dispose();
            stream.Dispose();
        }
    }
}
