using System.Text;
using LmForge.Data.Filters.Quality;

namespace LmForge.Data.Tests.Filters;

// Documents built to sit exactly on each Gopher quality threshold (kept) and one step past it (dropped, with the rule's
// name). Every document holds "the" and "of" (2 stop words) unless the test is about stop words.
public class GopherQualityFilterTests
{
    private static readonly GopherQualityFilter Filter = new();

    [Fact]
    public void Defaults_AreDatatroves()
    {
        var o = new GopherQualityOptions();
        Assert.Equal((50, 100_000, 3.0, 10.0, 0.1, 0.9, 0.3, 0.8, 2), (o.MinWords, o.MaxWords, o.MinMeanWordLength, o.MaxMeanWordLength,
            o.MaxSymbolWordRatio, o.MaxBulletLinesRatio, o.MaxEllipsisLinesRatio, o.MinAlphaWordsRatio, o.MinStopWords));
        Assert.Equal(["the", "be", "to", "of", "and", "that", "have", "with"], o.StopWords);
    }

    [Fact]
    public void WordCount_BitesBelow50()
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, "the of " + f.Words(48, 5)));
        Assert.Equal("gopher_short_doc", TextFactory.Reason(Filter, "the of " + f.Words(47, 5)));
        // Punctuation tokens are not words: 49 words and a lone "&" are still too short.
        Assert.Equal("gopher_short_doc", TextFactory.Reason(Filter, "the of & " + f.Words(47, 5)));
    }

    [Fact]
    public void WordCount_BitesAbove100000()
    {
        var f = new TextFactory();
        var pool = Enumerable.Range(0, 1000).Select(_ => f.Word(6)).ToArray();
        string Make(int words) => "the of " + string.Join(' ', Enumerable.Range(0, words - 2).Select(i => pool[i % pool.Length]));
        Assert.Null(TextFactory.Reason(Filter, Make(100_000)));
        Assert.Equal("gopher_long_doc", TextFactory.Reason(Filter, Make(100_001)));
    }

    [Fact]
    public void MeanWordLength_BitesBelow3()
    {
        var f = new TextFactory();
        // the(3) + of(2) + 47 x 3 + one of 4 = 150 chars / 50 words = 3.00; with that one at 3: 149/50 = 2.98.
        Assert.Null(TextFactory.Reason(Filter, "the of " + f.Words(47, 3) + " " + f.Word(4)));
        Assert.Equal("gopher_below_avg_threshold", TextFactory.Reason(Filter, "the of " + f.Words(47, 3) + " " + f.Word(3)));
    }

    [Fact]
    public void MeanWordLength_BitesAbove10()
    {
        var f = new TextFactory();
        // 5 + 45 x 10 + 3 x 15 = 500 chars / 50 words = 10.00; one more letter: 10.02.
        Assert.Null(TextFactory.Reason(Filter, "the of " + f.Words(45, 10) + " " + f.Words(3, 15)));
        Assert.Equal("gopher_above_avg_threshold", TextFactory.Reason(Filter, "the of " + f.Words(45, 10) + " " + f.Words(2, 15) + " " + f.Word(16)));
    }

    // 90 words plus k lone symbols (each its own token): k / (90 + k).
    private static string WithSymbols(TextFactory f, string symbol, int k)
    {
        var sb = new StringBuilder("the of");
        for (int i = 0; i < 88; i++)
        {
            sb.Append(' ').Append(f.Word(5));
            if (i < k) sb.Append(' ').Append(symbol);
        }
        return sb.ToString();
    }

    [Theory]
    [InlineData("#", "gopher_too_many_hashes")]
    [InlineData("...", "gopher_too_many_ellipsis")]
    [InlineData("…", "gopher_too_many_ellipsis")]
    public void SymbolToWordRatio_BitesAbove10Percent(string symbol, string reason)
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, WithSymbols(f, symbol, 10)));        // 10 / 100 = 0.100
        Assert.Equal(reason, TextFactory.Reason(Filter, WithSymbols(f, symbol, 11))); // 11 / 101 = 0.109
    }

    // 100 lines of 5 words (so bullets, tokens without letters, stay under 20%); `marked` of them start with a bullet (or end with an ellipsis).
    private static string Lines(TextFactory f, int marked, bool bullet)
    {
        var lines = Enumerable.Range(0, 100).Select(i =>
        {
            var words = (i == 0 ? "the of " : "") + f.Words(5, 5);
            if (i >= marked) return words;
            return bullet ? (i % 2 == 0 ? "  - " : "• ") + words : words + (i % 2 == 0 ? "..." : " …");
        });
        return string.Join('\n', lines);
    }

    [Fact]
    public void BulletLines_BiteAbove90Percent()
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, Lines(f, 90, bullet: true)));
        Assert.Equal("gopher_too_many_bullets", TextFactory.Reason(Filter, Lines(f, 91, bullet: true)));
    }

    [Fact]
    public void EllipsisLines_BiteAbove30Percent()
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, Lines(f, 30, bullet: false)));
        Assert.Equal("gopher_too_many_end_ellipsis", TextFactory.Reason(Filter, Lines(f, 31, bullet: false)));
    }

    [Fact]
    public void AlphabeticWords_BiteBelow80Percent()
    {
        var f = new TextFactory();
        var numbers = new Func<int, string>(k => string.Join(' ', Enumerable.Range(0, k).Select(i => (10000 + i).ToString())));
        Assert.Null(TextFactory.Reason(Filter, "the of " + f.Words(78, 5) + " " + numbers(20)));   // 80 / 100
        Assert.Equal("gopher_below_alpha_threshold", TextFactory.Reason(Filter, "the of " + f.Words(78, 5) + " " + numbers(21))); // 80 / 101
    }

    [Fact]
    public void StopWords_NeedTwoDistinctCaseSensitive()
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, "with " + f.Words(48, 5) + " and"));
        Assert.Equal("gopher_enough_stop_words", TextFactory.Reason(Filter, "the the " + f.Words(48, 5)));
        Assert.Equal("gopher_enough_stop_words", TextFactory.Reason(Filter, "The Of " + f.Words(48, 5)));
    }

    [Fact]
    public void EveryThreshold_IsConfigurable()
    {
        var f = new TextFactory();
        var text = "the of " + f.Words(28, 5);
        Assert.Equal("gopher_short_doc", TextFactory.Reason(Filter, text));
        Assert.Null(TextFactory.Reason(new GopherQualityFilter(new GopherQualityOptions { MinWords = 30 }), text));
        Assert.Null(TextFactory.Reason(new GopherQualityFilter(new GopherQualityOptions { MinWords = null }), text));
    }
}
