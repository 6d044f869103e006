using System.Text;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Data.SampleCrawl;

namespace LmForge.Data.Tests.SampleCrawl;

/// <summary>
/// `lmforge data sample-crawl`: the WARC files parse with our reader, every page declares its real charset, the
/// planted duplicates, PII and boilerplate are there as the manifest counts them, and a seed gives the same bytes.
/// Needs the Debian Reference pages (tests/setup/data.sh).
/// </summary>
public class SampleCrawlBuilderTests
{
    private static SampleCrawlReport Build(string directory, int seed = 3) =>
        new SampleCrawlBuilder(new SampleCrawlOptions { OutputDirectory = directory, Pages = 40, Seed = seed, Files = 3 }).Build();

    private static List<WarcRecord> Records(SampleCrawlReport report)
    {
        var records = new List<WarcRecord>();
        foreach (var file in report.Files)
        {
            using var reader = new WarcFileReader(file, 64 << 20, (reason, detail) => Assert.Fail($"{reason}: {detail}"));
            records.AddRange(reader.ReadRecords());
        }
        return records;
    }

    private static (string ContentType, byte[] Body) Http(WarcRecord record)
    {
        int end = record.Block.AsSpan().IndexOf("\r\n\r\n"u8);
        var head = Encoding.ASCII.GetString(record.Block, 0, end).Split("\r\n");
        Assert.Equal("HTTP/1.1 200 OK", head[0]);
        return (head.Single(l => l.StartsWith("Content-Type: ", StringComparison.Ordinal))["Content-Type: ".Length..], record.Block[(end + 4)..]);
    }

    [Fact]
    public void Records_parse_declare_their_real_charsets_and_carry_the_planted_pages()
    {
        using var dir = new TempDirectory();
        var report = Build(dir.File("crawl"));
        Assert.Equal(3, report.Files.Count);
        Assert.All(report.Files, f => Assert.EndsWith(".warc.gz", f, StringComparison.Ordinal));
        Assert.Equal(report.Files.Count + 1, Directory.GetFiles(dir.File("crawl")).Length); // the files and sample-crawl.json, no temporary left
        var records = Records(report);
        Assert.Equal(report.Files.Count, records.Count(r => r.Type == "warcinfo"));
        var responses = records.Where(r => r.Type == "response").ToList();
        Assert.Equal(report.Pages.Count, responses.Count);
        Assert.Equal(report.Pages.Count, records.Count(r => r.Type == "request"));
        Assert.All(records, r => Assert.Equal("WARC/1.1", r.Version));
        Assert.Equal(records.Count, records.Select(r => r.Id).Distinct().Count());
        var byUrl = responses.ToDictionary(r => r.TargetUri!);
        Assert.Equal(report.Pages.Select(p => p.Url).Order(), byUrl.Keys.Order());

        foreach (var page in report.Pages)
        {
            var record = byUrl[page.Url];
            Assert.Equal("application/http; msgtype=response", record.Headers["Content-Type"]);
            Assert.NotNull(record.Date);
            var (contentType, body) = Http(record);
            Assert.Equal($"text/html; charset={page.Charset}", contentType);
            Assert.Equal(page.Charset, HtmlCharset.CharsetFromMeta(body.AsSpan(0, Math.Min(body.Length, 4096)))); // the page says the same
            var html = HtmlCharset.Decode(body, contentType, out var source);
            Assert.Equal("http_header", source);
            Assert.DoesNotContain('\uFFFD', html);
            if (page.Charset != "UTF-8")
            {
                Assert.False(HtmlCharset.IsValidUtf8(body), $"{page.Url} in {page.Charset} is valid UTF-8: not re-encoded");
                Assert.Contains(html, c => c > 0x7F); // accented letters or CJK came back
            }
        }
        Assert.Contains(report.Pages, p => p.Charset == "windows-1252");
        Assert.Contains(report.Pages, p => p.Charset == "ISO-8859-1");
        Assert.Contains(report.Pages, p => p.Charset == "Shift_JIS");
        Assert.Contains(report.Pages, p => p.Charset == "GBK");
        Assert.Equal(SampleCrawlBuilder.Languages.Order(), report.Pages.Select(p => p.Language).Distinct().Order());

        // Exact copies are the same bytes under another URL; near copies differ in a few words.
        var exact = report.Pages.Where(p => p.Kind == SampleCrawlReport.ExactDuplicate).ToList();
        var near = report.Pages.Where(p => p.Kind == SampleCrawlReport.NearDuplicate).ToList();
        Assert.NotEmpty(exact);
        Assert.NotEmpty(near);
        Assert.All(exact, p => Assert.Equal(Http(byUrl[p.DuplicateOf!]).Body, Http(byUrl[p.Url]).Body));
        Assert.All(near, p =>
        {
            var a = Encoding.UTF8.GetString(Http(byUrl[p.DuplicateOf!]).Body).Split(' ');
            var b = Encoding.UTF8.GetString(Http(byUrl[p.Url]).Body).Split(' ');
            Assert.Equal(a.Length, b.Length);
            int changed = a.Zip(b).Count(w => w.First != w.Second);
            Assert.InRange(changed, 1, 5);
        });
        // PII: each planted address is in its page.
        var pii = report.Pages.Where(p => p.Pii.Count > 0).ToList();
        Assert.NotEmpty(pii);
        Assert.All(pii, p => Assert.All(p.Pii, s => Assert.Contains(s, Encoding.UTF8.GetString(Http(byUrl[p.Url]).Body), StringComparison.Ordinal)));
        Assert.Equal(pii.Count, pii.Sum(p => p.Emails));
        Assert.Equal(2 * pii.Count, pii.Sum(p => p.Ips));
        // Boilerplate pages are navigation only: no paragraph of text.
        var boilerplate = report.Pages.Where(p => p.Kind == SampleCrawlReport.Boilerplate).ToList();
        Assert.NotEmpty(boilerplate);
        Assert.All(boilerplate, p => Assert.DoesNotContain("<div class=\"chapter\">", Encoding.UTF8.GetString(Http(byUrl[p.Url]).Body), StringComparison.Ordinal));
        Assert.Equal(3, report.Count(SampleCrawlReport.BlockedUrl));
        Assert.True(File.Exists(report.ManifestPath));
    }

    [Fact]
    public void Same_seed_same_bytes_other_seed_other_crawl_and_an_existing_crawl_is_refused()
    {
        using var dir = new TempDirectory();
        var a = Build(dir.File("a"));
        var b = Build(dir.File("b"));
        var c = Build(dir.File("c"), seed: 4);
        Assert.Equal(a.Files.Select(Path.GetFileName), b.Files.Select(Path.GetFileName));
        foreach (var (x, y) in a.Files.Zip(b.Files)) Assert.Equal(File.ReadAllBytes(x), File.ReadAllBytes(y));
        Assert.Equal(File.ReadAllText(a.ManifestPath), File.ReadAllText(b.ManifestPath));
        Assert.NotEqual(a.Pages.Select(p => p.Url).Order(), c.Pages.Select(p => p.Url).Order());

        var e = Assert.Throws<RecipeException>(() => Build(dir.File("a")));
        Assert.Contains("already holds WARC files", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_pages_name_the_packages_to_install()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("empty"));
        var e = Assert.Throws<RecipeException>(() =>
            new SampleCrawlBuilder(new SampleCrawlOptions { OutputDirectory = dir.File("out"), SourceDirectory = dir.File("empty") }).Build());
        Assert.Contains("sudo apt-get install debian-reference-en debian-reference-fr", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(dir.File("out")));
    }
}
