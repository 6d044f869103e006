using System.Text;
using LmForge.Data.Execution;
using LmForge.Data.Extraction;
using LmForge.Data.Pipeline;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.EndToEnd;

/// <summary>
/// The web recipe end to end on real pages: the Debian Reference (8 languages) written into WARC files, run
/// through reader → extraction → URL filter → PII → writer by the local executor, then checked against Debian's
/// own text rendering of the book, the planted e-mail and IP addresses, the planted blocked pages and the stats.
/// </summary>
public class DebianDocsPipelineTests
{
    private const string PlantedEmail = "jane.maintainer@lists.debian-example.org";
    private const string PlantedPublicIp = "93.184.216.34";
    private const string PlantedPrivateIp = "192.168.10.20";

    private static byte[] PlantPii(byte[] html)
    {
        var text = Encoding.UTF8.GetString(html);
        int body = text.IndexOf("<p>", text.IndexOf("<div class=\"section\">", StringComparison.Ordinal), StringComparison.Ordinal);
        var planted = $"<p>Questions about this chapter can be sent to {PlantedEmail}; the mirror at {PlantedPublicIp} and the local cache at {PlantedPrivateIp} serve the packages.</p>";
        return Encoding.UTF8.GetBytes(text.Insert(body, planted));
    }

    [Fact]
    public void Web_recipe_on_debian_reference_pages()
    {
        using var dir = new TempDirectory();
        var pages = new List<(string Url, byte[] Html)>();
        foreach (var language in DebianDocs.Languages)
        {
            foreach (var page in DebianDocs.Pages(language))
            {
                var html = File.ReadAllBytes(page);
                if (Path.GetFileName(page).StartsWith("ch02.", StringComparison.Ordinal)) html = PlantPii(html);
                pages.Add((DebianDocs.Url(page), html));
            }
        }
        // Two pages from a blocked domain and one with a banned word in its URL.
        var spam = File.ReadAllBytes(DebianDocs.Pages("en")[1]);
        pages.Add(("https://mirror.spam-farm.example/copy1.html", spam));
        pages.Add(("https://spam-farm.example/copy2.html", spam));
        pages.Add(("https://www.example.net/casino/debian.html", spam));
        DebianDocs.WriteWarcs(dir.File("crawl"), pages, files: 5);
        File.WriteAllText(dir.File("blocked-domains.txt"), "# test list\nspam-farm.example\n");
        File.WriteAllText(dir.File("recipe.json"), """
            {
              "name": "debian-web", "work_dir": "work",
              "stages": [{
                "name": "web", "tasks": 5, "removed_dir": "removed",
                "steps": [
                  {"type": "warc_reader", "path": "crawl"},
                  {"type": "html_extractor"},
                  {"type": "url_filter", "domains_file": "blocked-domains.txt", "banned_words": ["casino"]},
                  {"type": "pii_anonymizer"},
                  {"type": "jsonl_writer", "path": "clean"}
                ]
              }]
            }
            """);

        var recipe = Recipe.Load(dir.File("recipe.json"));
        var result = new LocalExecutor(recipe, workers: 2).Run();
        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Message)));
        var stats = result.StageStats["web"];

        var output = StepRunner.Run(new JsonlReader(dir.File("clean"))).Documents;
        int realPages = pages.Count - 3;
        Assert.Equal(realPages, output.Count);
        Assert.Equal(pages.Take(realPages).Select(p => p.Url).Order(), output.Select(d => d.Url!).Order());

        // Stats add up, step to step.
        foreach (var (name, step) in stats.Steps) Assert.Equal(step.DocumentsIn, step.DocumentsKept + step.DocumentsRemoved);
        Assert.Equal(pages.Count, stats.For("warc_reader").DocumentsKept);
        Assert.Equal(pages.Count, stats.For("warc_reader").Counters["skipped_warc_type_request"]);
        Assert.Equal(5, stats.For("warc_reader").Counters["skipped_warc_type_warcinfo"]);
        Assert.Equal(pages.Count, stats.For("html_extractor").DocumentsIn);
        Assert.Equal(stats.For("html_extractor").DocumentsKept, stats.For("url_filter").DocumentsIn);
        Assert.Equal(2, stats.For("url_filter").RemovedByReason["blocked_domain"]);
        Assert.Equal(1, stats.For("url_filter").RemovedByReason["banned_word"]);
        Assert.Equal(realPages, stats.For("jsonl_writer").DocumentsKept);
        Assert.Equal(3, StepRunner.Run(new JsonlReader(dir.File("removed/url_filter"))).Documents.Count);

        // Planted PII: the e-mail and the public IP are replaced on all 8 pages, the private IP stays.
        var planted = output.Where(d => d.Url!.Contains("/ch02.", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, planted.Count);
        Assert.All(planted, d =>
        {
            Assert.DoesNotContain(PlantedEmail, d.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(PlantedPublicIp, d.Text, StringComparison.Ordinal);
            Assert.Contains(PlantedPrivateIp, d.Text, StringComparison.Ordinal);
            Assert.Contains(LmForge.Data.Anonymization.PiiAnonymizer.EmailReplacements, r => d.Text.Contains(r, StringComparison.Ordinal));
        });
        Assert.True(stats.For("pii_anonymizer").Counters["emails_replaced"] >= 8);
        Assert.True(stats.For("pii_anonymizer").Counters["ips_replaced"] >= 8); // the book has public IPs of its own
        Assert.DoesNotContain(output, d => d.Text.Contains(PlantedEmail, StringComparison.Ordinal));

        // Extraction against Debian's own text rendering of the same book: the shingles we extract are the book's
        // (precision), and we cover most of the book (recall). Navigation, markup or lost sections would show as
        // misses; the ceiling is below 1 because the text rendering lays tables out in columns and numbers lines.
        foreach (var language in new[] { "en", "fr", "de" })
        {
            var ours = string.Join("\n\n", output.Where(d => d.Url!.EndsWith($".{language}.html", StringComparison.Ordinal)).OrderBy(d => d.Url, StringComparer.Ordinal).Select(d => d.Text));
            var counts = ShingleScore.Match(DebianDocs.BookText(language), ours);
            double precision = counts.TruePositive / (counts.TruePositive + counts.FalsePositive);
            double recall = counts.TruePositive / (counts.TruePositive + counts.FalseNegative);
            Assert.True(precision > 0.85 && recall > 0.75, $"{language}: precision {precision:F3} recall {recall:F3} against debian-reference.{language}.txt");
        }
        Assert.All(output, d => Assert.DoesNotContain("<div", d.Text, StringComparison.Ordinal));
    }
}
