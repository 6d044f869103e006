using LmForge.Data.Filters;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.Filters;

public class UrlFilterTests
{
    private static (List<Document> Kept, StepStats Stats) Run(UrlFilter filter, params string?[] urls)
    {
        var docs = urls.Select((u, i) => new Document(i.ToString(), "text") { Url = u }).ToList();
        var (kept, stats, _) = StepRunner.Run(filter, docs);
        return (kept, stats);
    }

    [Fact]
    public void Each_rule_removes_with_its_own_reason()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("domains.txt"), "# adult domains\nbad.example\n\nEvil.ORG\n");
        File.WriteAllText(dir.File("soft.txt"), "hot\ngirls\nlive\n");
        var filter = new UrlFilter(StepParameters.FromJson("url_filter", $$"""
            {"domains_file": "{{dir.File("domains.txt")}}", "subdomains": ["ads.tracker.net"], "urls": ["https://site.com/blocked/page/"],
             "banned_words": ["casino"], "soft_banned_words_file": "{{dir.File("soft.txt")}}", "soft_word_threshold": 2,
             "banned_subwords": ["xxx"]}
            """));
        var (kept, stats) = Run(filter,
            "https://bad.example/page",                // blocked_domain
            "http://www.sub.evil.org/x",               // blocked_domain (a parent domain)
            "https://ads.tracker.net/p",               // blocked_subdomain
            "https://tracker.net/p",                   // kept: only that host is blocked
            "https://site.com/blocked/page#top",       // blocked_url
            "https://news.com/best-casino-bonus",      // banned_word
            "https://news.com/casinos-history",        // kept: "casinos" is not the word "casino"
            "https://cams.com/hot-girls-now",          // soft_banned_words (2)
            "https://weather.com/hot-summer",          // kept: 1 soft word
            "https://shop.com/superxxxsale",           // banned_subword
            "https://shop.com/s-x-x-x",                // banned_subword (letters and digits only)
            "https://example.com/article",             // kept
            null);                                     // kept, no_url
        Assert.Equal(["3", "6", "8", "11", "12"], kept.Select(d => d.Id));
        Assert.Equal(2, stats.RemovedByReason["blocked_domain"]);
        Assert.Equal(1, stats.RemovedByReason["blocked_subdomain"]);
        Assert.Equal(1, stats.RemovedByReason["blocked_url"]);
        Assert.Equal(1, stats.RemovedByReason["banned_word"]);
        Assert.Equal(1, stats.RemovedByReason["soft_banned_words"]);
        Assert.Equal(2, stats.RemovedByReason["banned_subword"]);
        Assert.Equal(1, stats.Counter("no_url"));
        Assert.Equal(stats.DocumentsIn, stats.DocumentsKept + stats.DocumentsRemoved);
    }

    [Fact]
    public void Missing_list_file_is_a_recipe_error_naming_the_parameter()
    {
        var e = Assert.Throws<RecipeException>(() => new UrlFilter(StepParameters.FromJson("url_filter", """{"domains_file": "/nonexistent/list.txt"}""")));
        Assert.Contains("domains_file", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/list.txt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_threshold_and_wrong_list_type_are_rejected()
    {
        Assert.Throws<RecipeException>(() => new UrlFilter(StepParameters.FromJson("url_filter", """{"soft_word_threshold": 0}""")));
        var e = Assert.Throws<RecipeException>(() => new UrlFilter(StepParameters.FromJson("url_filter", """{"banned_words": "casino"}""")));
        Assert.Contains("banned_words", e.Message, StringComparison.Ordinal);
    }
}
