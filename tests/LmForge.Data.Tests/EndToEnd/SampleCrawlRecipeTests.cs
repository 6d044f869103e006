using LmForge.Data.Execution;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Data.SampleCrawl;

namespace LmForge.Data.Tests.EndToEnd;

/// <summary>
/// What the README tells a newcomer to run: `lmforge data sample-crawl --out examples/crawl`, then
/// `lmforge data run examples/fineweb-recipe.json` (the shipped recipe and lists, here on a small crawl). Every stage
/// has work: the URL filter removes the planted spam URLs, the language filter the other languages, the quality
/// filters the boilerplate pages, MinHash the planted copies, the anonymizer the planted addresses; the summary the
/// run prints adds up.
/// </summary>
public class SampleCrawlRecipeTests
{
    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LmForge.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new DirectoryNotFoundException($"{AppContext.BaseDirectory}: no LmForge.slnx above the test output");
    }

    [Fact]
    public void Example_recipe_on_a_sample_crawl_gives_every_stage_work()
    {
        using var dir = new TempDirectory();
        File.Copy(RepositoryFile("examples/fineweb-recipe.json"), dir.File("fineweb-recipe.json"));
        Directory.CreateDirectory(dir.File("lists"));
        foreach (var list in Directory.GetFiles(RepositoryFile("examples/lists"))) File.Copy(list, Path.Combine(dir.File("lists"), Path.GetFileName(list)));
        var crawl = new SampleCrawlBuilder(new SampleCrawlOptions { OutputDirectory = dir.File("crawl"), Pages = 40, Seed = 1 }).Build();

        var recipe = Recipe.Load(dir.File("fineweb-recipe.json"));
        var result = new LocalExecutor(recipe, workers: 2).Run();
        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Message)));
        var summary = RunSummary.From(recipe, result);

        Assert.Equal(crawl.Pages.Count, summary.DocumentsRead);
        Assert.All(summary.Steps, s => Assert.Equal(s.DocumentsIn, s.DocumentsKept + s.DocumentsRemoved));
        SummaryStep Step(string name) => summary.Steps.Single(s => s.Step == name && s.Stage == (name is "minhash_filter" or "pii_anonymizer" ? "minhash_filter" : "web"));
        Assert.Equal([("banned_word", 1L), ("blocked_domain", 1L), ("soft_banned_words", 1L)], Step("url_filter").RemovedByRule.OrderBy(r => r.Rule));
        Assert.True(Step("language_filter").DocumentsRemoved >= crawl.Pages.Count(p => p.Language != "en"));
        Assert.Contains(summary.Languages, l => l.Language == "ja");
        Assert.Equal("en", summary.Languages[0].Language);
        Assert.True(Step("gopher_quality").DocumentsRemoved > 0);

        // Every planted copy whose original reached dedup is removed; so is every planted address that reached the anonymizer.
        var filtered = StepRunner.Run(new JsonlReader(dir.File("filtered"))).Documents;
        var reachedDedup = filtered.Select(d => d.Url!).ToHashSet();
        int copies = crawl.Pages.Count(p => p.Kind is SampleCrawlReport.ExactDuplicate or SampleCrawlReport.NearDuplicate && reachedDedup.Contains(p.Url));
        Assert.True(copies >= 1, "no planted duplicate passed the filters");
        Assert.Equal(copies, summary.DuplicatesRemoved);
        var clean = StepRunner.Run(new JsonlReader(dir.File("clean"))).Documents;
        Assert.Equal(summary.DocumentsOut, clean.Count);
        Assert.Equal(filtered.Count - copies, clean.Count);
        var planted = crawl.Pages.SelectMany(p => p.Pii).ToList();
        Assert.True(summary.EmailsReplaced >= 1 && summary.IpsReplaced >= 2, $"{summary.EmailsReplaced} e-mails, {summary.IpsReplaced} IPs replaced");
        Assert.All(clean, d => Assert.All(planted, s => Assert.DoesNotContain(s, d.Text, StringComparison.Ordinal)));
        Assert.Equal(dir.File("clean"), summary.CleanOutput);
        Assert.Equal([dir.File("removed")], summary.RemovedDirectories);
        Assert.Equal(Step("url_filter").DocumentsRemoved, StepRunner.Run(new JsonlReader(dir.File("removed/url_filter"))).Documents.Count);
        Assert.Equal(copies, StepRunner.Run(new JsonlReader(dir.File("removed/minhash_filter"))).Documents.Count);
    }
}
