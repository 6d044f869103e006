using System.Text;
using LmForge.Data.Execution;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.EndToEnd;

/// <summary>
/// The whole FineWeb-style recipe on the Debian Reference pages in 8 languages, with planted exact copies and near
/// copies (one sentence changed) of English pages under other URLs: reader → extraction → URL filter → language
/// filter (English) → Gopher/FineWeb quality → PII → writer, then exact dedup and MinHash dedup as their own
/// stages. Every English page that passes the quality filters must come out exactly once; nothing else may.
/// The pages are reference documentation whose package tables are mostly numbers, so Gopher's share of words with
/// a letter is lowered from 0.8 to 0.6 (at 0.8 it removes 12 of the 15 English chapters; at 0.6, 8 pass language and quality).
/// </summary>
public class FineWebRecipeTests
{
    private static string PageName(string url)
    {
        var name = url[(url.LastIndexOf('/') + 1)..];
        int query = name.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? name : name[..query];
    }

    [Fact]
    public void Full_recipe_keeps_each_english_page_once()
    {
        using var dir = new TempDirectory();
        var pages = new List<(string Url, byte[] Html)>();
        foreach (var lang in DebianDocs.Languages)
            pages.AddRange(DebianDocs.Pages(lang).Select(p => (DebianDocs.Url(p), File.ReadAllBytes(p))));
        var english = DebianDocs.Pages("en");
        var planted = new[] { english[3], english[5], english[7], english[8] };
        foreach (var page in planted)
        {
            var html = File.ReadAllBytes(page);
            pages.Add(($"https://mirror.debian-example.org/copy/{Path.GetFileName(page)}?exact", html));
            var text = Encoding.UTF8.GetString(html);
            int p = text.IndexOf("<p>", text.IndexOf("<div class=\"section\">", StringComparison.Ordinal), StringComparison.Ordinal) + 3;
            var near = text.Insert(p, "This mirror copy was refreshed last week by the volunteer team. ");
            pages.Add(($"https://other-mirror.debian-example.net/{Path.GetFileName(page)}?near", Encoding.UTF8.GetBytes(near)));
        }
        DebianDocs.WriteWarcs(dir.File("crawl"), pages, files: 6);
        File.WriteAllText(dir.File("recipe.json"), """
            {
              "name": "fineweb-debian", "work_dir": "work",
              "stages": [
                {"name": "web", "tasks": 6, "removed_dir": "removed", "steps": [
                  {"type": "warc_reader", "path": "crawl"},
                  {"type": "html_extractor"},
                  {"type": "url_filter", "banned_words": ["casino"]},
                  {"type": "language_filter", "languages": ["en"], "threshold": 0.65},
                  {"type": "gopher_repetition"},
                  {"type": "gopher_quality", "min_alpha_words_ratio": 0.6},
                  {"type": "fineweb_quality"},
                  {"type": "pii_anonymizer"},
                  {"type": "jsonl_writer", "path": "filtered"}]},
                {"name": "exact_signatures", "tasks": 2, "steps": [
                  {"type": "jsonl_reader", "path": "filtered"}, {"type": "exact_dedup_signature", "folder": "exact"}]},
                {"name": "exact_reduce", "tasks": 1, "steps": [{"type": "exact_dedup_reduce", "folder": "exact"}]},
                {"name": "exact_filter", "tasks": 2, "steps": [
                  {"type": "jsonl_reader", "path": "filtered"}, {"type": "exact_dedup_filter", "folder": "exact"},
                  {"type": "jsonl_writer", "path": "unique"}]},
                {"name": "minhash_signatures", "tasks": 2, "steps": [
                  {"type": "jsonl_reader", "path": "unique"}, {"type": "minhash_signature", "folder": "minhash"}]},
                {"name": "minhash_buckets", "tasks": 2, "steps": [{"type": "minhash_buckets", "folder": "minhash"}]},
                {"name": "minhash_cluster", "tasks": 1, "steps": [{"type": "minhash_cluster", "folder": "minhash"}]},
                {"name": "minhash_filter", "tasks": 2, "steps": [
                  {"type": "jsonl_reader", "path": "unique"}, {"type": "minhash_filter", "folder": "minhash"},
                  {"type": "jsonl_writer", "path": "final"}]}
              ]
            }
            """);
        var result = new LocalExecutor(Recipe.Load(dir.File("recipe.json")), workers: 2).Run();
        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Message)));

        var web = result.StageStats["web"];
        foreach (var (name, step) in web.Steps) Assert.Equal(step.DocumentsIn, step.DocumentsKept + step.DocumentsRemoved);
        // Language: all 105 pages in the 7 other languages go; English pages stay unless too little of them reads as
        // English (at FineWeb's 0.65, command listings and the table of contents can fall short).
        var language = web.For("language_filter");
        var removedByLanguage = StepRunner.Run(new JsonlReader(dir.File("removed/language_filter"))).Documents;
        Assert.Equal(language.DocumentsRemoved, removedByLanguage.Count);
        Assert.Equal(15 * 7, removedByLanguage.Count(d => !d.Url!.Contains(".en.html", StringComparison.Ordinal)));
        Assert.All(removedByLanguage.Where(d => d.Url!.Contains(".en.html", StringComparison.Ordinal)), d => Assert.Equal("en", d.Metadata["language"]));
        int englishKept = 15 - removedByLanguage.Count(d => d.Url!.StartsWith("https://www.debian.org/", StringComparison.Ordinal) && d.Url.EndsWith(".en.html", StringComparison.Ordinal));
        Assert.True(englishKept >= 12, $"language filter kept only {englishKept} of the 15 English pages");

        var filtered = StepRunner.Run(new JsonlReader(dir.File("filtered"))).Documents;
        Assert.All(filtered, d => Assert.Equal("en", d.Metadata["language"]));
        var passedQuality = filtered.Select(d => PageName(d.Url!)).ToHashSet();
        Assert.True(passedQuality.Count >= 6, $"only {passedQuality.Count} of 15 English pages passed the language and quality filters");

        var final = StepRunner.Run(new JsonlReader(dir.File("final"))).Documents;
        Assert.Equal(passedQuality.Order(), final.Select(d => PageName(d.Url!)).Order()); // each page exactly once

        long exactRemoved = result.StageStats["exact_filter"].For("exact_dedup_filter").DocumentsRemoved;
        long nearRemoved = result.StageStats["minhash_filter"].For("minhash_filter").DocumentsRemoved;
        int plantedSurvivingQuality = planted.Count(p => passedQuality.Contains(Path.GetFileName(p)));
        Assert.True(plantedSurvivingQuality >= 2, "the planted pages did not pass the quality filters");
        Assert.Equal(plantedSurvivingQuality, exactRemoved);
        Assert.Equal(plantedSurvivingQuality, nearRemoved);
    }
}
