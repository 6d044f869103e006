using System.IO.Compression;
using System.Text;
using LmForge.Data.SampleCrawl;

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

    /// <summary>Writes pages as a crawl (the sample crawl's writer: warcinfo, request and response records, gzip per record).</summary>
    public static void WriteWarcs(string directory, IReadOnlyList<(string Url, byte[] Html)> pages, int files) =>
        SampleCrawlBuilder.WriteWarcFiles(directory, "crawl", [.. pages.Select(p => new CrawlPage(p.Url, p.Html, "UTF-8"))], files, seed: 20230828);
}
