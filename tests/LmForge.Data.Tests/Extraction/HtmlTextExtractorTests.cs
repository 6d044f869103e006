using LmForge.Data.Extraction;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Extraction;

public class HtmlTextExtractorTests
{
    private const string Para1 = "The committee met on Tuesday to discuss the budget, the schedule, and the long list of repairs that the old library building needs before winter.";
    private const string Para2 = "Members agreed that the roof comes first, followed by the heating system, while the question of new shelving was postponed until the spring meeting.";
    private const string Para3 = "A final vote on the full plan, including how it will be paid for, is expected next month after the public hearing.";

    private static string Page(string article) => $$"""
        <!DOCTYPE html><html><head><title>Library news</title><style>p { color: red }</style>
        <script>var tracking = "do not extract this script text at all";</script></head>
        <body>
          <div id="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
          <header class="site-header"><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About</a></header>
          <nav class="main-menu"><ul><li><a href="/a">Sports</a></li><li><a href="/b">Weather</a></li><li><a href="/c">Politics</a></li></ul></nav>
          <div class="layout">
            {{article}}
            <aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Another story that everyone read today</a></li><li><a href="/y">Yet another popular story</a></li></ul></aside>
          </div>
          <div class="share-buttons"><a href="/share/fb">Share on Facebook</a> <a href="/share/tw">Share on Twitter</a></div>
          <form action="/subscribe"><label>Email</label><input name="email"><button>Subscribe to our newsletter</button></form>
          <footer>Copyright 2024 Example Town Gazette. All rights reserved. <a href="/privacy">Privacy</a></footer>
        </body></html>
        """;

    [Fact]
    public void Keeps_the_article_paragraphs_with_breaks_and_drops_the_furniture()
    {
        var html = Page($"<article><h1>Library repairs</h1><p>{Para1}</p><p>{Para2}</p><p>{Para3}</p></article>");
        var text = new HtmlTextExtractor().Extract(html);
        Assert.Equal($"{Para1}\n\n{Para2}\n\n{Para3}", text);
    }

    [Fact]
    public void Finds_div_soup_content_without_semantic_tags()
    {
        var html = Page($"<div class=\"c1\"><div class=\"c2\">{Para1}<br><br>{Para2}</div><div class=\"c2\">{Para3}</div></div>");
        var text = new HtmlTextExtractor().Extract(html);
        Assert.Contains(Para1, text, StringComparison.Ordinal);
        Assert.Contains(Para2, text, StringComparison.Ordinal);
        Assert.Contains(Para3, text, StringComparison.Ordinal);
        Assert.Contains(Para1 + "\n", text, StringComparison.Ordinal); // <br> is a line break
        foreach (var furniture in new[] { "cookies", "Sports", "Most read", "Share on", "Subscribe", "Copyright", "tracking", "color" })
            Assert.DoesNotContain(furniture, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Repairs_broken_html()
    {
        // Unclosed tags, a stray </div>, an unterminated attribute at the end: the HTML5 parser recovers as browsers do.
        var html = $"<html><body><div><p>{Para1}<p>{Para2}</div></div><p>{Para3}<b>bold <i>both</b> tail</i><div class=\"x";
        var text = new HtmlTextExtractor().Extract(html);
        Assert.Contains(Para1, text, StringComparison.Ordinal);
        Assert.Contains(Para2, text, StringComparison.Ordinal);
        Assert.Contains(Para3, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Keeps_preformatted_line_breaks_and_list_items()
    {
        var html = Page($"<article><p>{Para1}</p><pre>apt-get update\napt-get install foo</pre><ul><li>first point of the list here</li><li>second point of the list here</li></ul><p>{Para2}</p></article>");
        var text = new HtmlTextExtractor().Extract(html);
        Assert.Contains("apt-get update\napt-get install foo", text, StringComparison.Ordinal);
        Assert.Contains("first point of the list here\nsecond point of the list here", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("<html></html>")]
    [InlineData("just some text, not html")]
    [InlineData("<<<>>><<!-- unterminated")]
    public void Empty_or_odd_input_does_not_throw(string html)
    {
        var text = new HtmlTextExtractor().Extract(html);
        Assert.NotNull(text);
    }

    [Fact]
    public void Step_removes_pages_without_text_and_counts_them()
    {
        var docs = new[] { new Document("a", Page($"<article><p>{Para1}</p></article>")), new Document("b", "<html><body><script>x()</script></body></html>") };
        var (kept, stats, _) = StepRunner.Run(new HtmlExtractor(), docs);
        Assert.Equal("a", Assert.Single(kept).Id);
        Assert.Equal(Para1, kept[0].Text);
        Assert.Equal(1, stats.RemovedByReason["no_text"]);
        Assert.Equal(2, stats.DocumentsIn);
    }
}

public class ShingleScoreTests
{
    [Fact]
    public void Tokenizes_like_python_word_regex()
    {
        // Python: re.findall(r'\w+', "20:13Nesta página, você_x 3½ ٣ e\u0301") ==
        // ['20', '13Nesta', 'página', 'você_x', '3½', '٣', 'e'] (the combining accent is not \w).
        Assert.Equal(["20", "13Nesta", "página", "você_x", "3½", "٣", "e"], ShingleScore.Tokenize("20:13Nesta página, você_x 3½ ٣ e\u0301"));
    }

    [Fact]
    public void Counts_shingles_as_evaluate_py()
    {
        // Worked by hand: truth has 2 shingles, prediction 4, one shared; tp=1, fp=3, fn=1 over a sum of 5.
        var counts = ShingleScore.Match("Nesta página você terá sempre", "as 20:13Nesta página você terá sempre");
        Assert.Equal(0.2, counts.TruePositive, 12);
        Assert.Equal(0.6, counts.FalsePositive, 12);
        Assert.Equal(0.2, counts.FalseNegative, 12);
    }

    [Fact]
    public void Averages_per_document_and_handles_empty_texts()
    {
        var truth = new Dictionary<string, string> { ["a"] = "one two three four five", ["b"] = "", ["c"] = "alpha beta gamma delta" };
        var predicted = new Dictionary<string, string> { ["a"] = "one two three four five", ["b"] = "", ["c"] = "" };
        var result = ShingleScore.Evaluate(truth, predicted);
        // a: P=R=1; b: no shingles either side, excluded from both means; c: nothing predicted -> R=0, excluded from P.
        Assert.Equal(1.0, result.Precision, 12);
        Assert.Equal(0.5, result.Recall, 12);
        Assert.Equal(2 * 0.5 / 1.5, result.F1, 12);
        Assert.Equal(2.0 / 3, result.Accuracy, 12);
    }
}

public class HtmlExtractorStepTests
{
    [Fact]
    public void A_page_over_the_size_limit_is_counted_as_an_extraction_error()
    {
        string ok = "<html><body><p>A short page that is fine to extract.</p></body></html>";
        var docs = new[] { new Document("big", ok.Replace("short", new string('x', 200), StringComparison.Ordinal)), new Document("ok", ok) };
        var step = new HtmlExtractor(new LmForge.Data.Recipes.StepParameters(System.Text.Json.JsonDocument.Parse("""{"max_html_length": 150}""").RootElement, "steps[0]", "html_extractor", "."));
        var (kept, stats, log) = StepRunner.Run(step, docs);
        Assert.Equal("ok", Assert.Single(kept).Id);
        Assert.Equal(1, stats.RemovedByReason["extraction_error"]);
        Assert.Contains(log, line => line.Contains("more than the limit of 150", StringComparison.Ordinal));
    }

    [Fact]
    public void A_bug_in_the_extractor_stops_the_step_instead_of_becoming_a_statistic()
    {
        var step = new HtmlExtractor(_ => throw new NullReferenceException("a bug"));
        var error = Assert.Throws<NullReferenceException>(() => StepRunner.Run(step, [new Document("a", "<p>text</p>")]));
        Assert.Equal("a bug", error.Message);
    }
}
