using System.Text;
using LmForge.Data.Filters.Quality;

namespace LmForge.Data.Tests.Filters;

// Each FineWeb rule on documents sitting exactly on its threshold (kept) and one step past it (dropped by that rule).
public class FineWebQualityFilterTests
{
    private static readonly FineWebQualityFilter Filter = new();

    [Fact]
    public void Defaults_AreFineWebs()
    {
        var o = new FineWebQualityOptions();
        Assert.Equal((0.12, false, 0.67, 30, 0.01, 0.3), (o.LinePunctuationRatio, o.LinePunctuationExcludeZero, o.ShortLineRatio, o.ShortLineLength, o.CharacterDuplicatesRatio, o.NewLineRatio));
    }

    // A line of exactly length characters: fresh words, then the ending.
    private static string Line(TextFactory f, int length, string ending = ".")
    {
        var sb = new StringBuilder();
        f.PadWithWords(sb, length - ending.Length);
        return sb.Append(ending).ToString();
    }

    [Fact]
    public void Empty_WhenNoLineHasText() => Assert.Equal("empty", TextFactory.Reason(Filter, " \n\t\n"));

    [Fact]
    public void LinePunctuation_BitesBelow12Percent()
    {
        var f = new TextFactory();
        string Doc(int punctuated) => string.Join('\n', Enumerable.Range(0, 100).Select(i => Line(f, 45, i < punctuated ? "." : "")));
        Assert.Null(TextFactory.Reason(Filter, Doc(12)));
        Assert.Equal("line_punct_ratio", TextFactory.Reason(Filter, Doc(11)));
        Assert.Equal("line_punct_ratio", TextFactory.Reason(Filter, Doc(0)));
        Assert.Null(TextFactory.Reason(new FineWebQualityFilter(new FineWebQualityOptions { LinePunctuationExcludeZero = true }), Doc(0)));
    }

    [Fact]
    public void ShortLines_BiteAbove67Percent_AtMost30Chars()
    {
        var f = new TextFactory();
        string Doc(int shortLines) => string.Join('\n', Enumerable.Range(0, 100).Select(i => Line(f, i < shortLines ? 30 : 31)));
        Assert.Null(TextFactory.Reason(Filter, Doc(67)));
        Assert.Equal("short_line_ratio", TextFactory.Reason(Filter, Doc(68)));
    }

    // A 100-char line twice, then unique lines, totalling `characters` characters without the newlines.
    private static string DuplicateLines(TextFactory f, int characters)
    {
        var repeated = Line(f, 100);
        var lines = new List<string> { repeated, repeated };
        int remaining = characters - 200;
        while (remaining > 0)
        {
            int length = remaining > 120 ? 60 : remaining;
            lines.Add(Line(f, length));
            remaining -= length;
        }
        return string.Join('\n', lines);
    }

    [Fact]
    public void CharacterDuplicates_BiteAbove1Percent()
    {
        var f = new TextFactory();
        Assert.Null(TextFactory.Reason(Filter, DuplicateLines(f, 10_000)));                      // 100 / 10000
        Assert.Equal("char_dup_ratio", TextFactory.Reason(Filter, DuplicateLines(f, 9_999)));   // 100 / 9999
    }

    [Fact]
    public void NewLinesPerWord_BiteAbove30Percent()
    {
        var f = new TextFactory();
        // Lines 0-1: "w w." = 3 tokens each (the period is a token); lines 2-9: 3 words. 30 tokens, 9 newlines.
        var lines = Enumerable.Range(0, 10).Select(i => i < 2 ? f.Words(2, 12) + "." : f.Words(3, 12)).ToList();
        var text = string.Join('\n', lines);
        Assert.Null(TextFactory.Reason(Filter, text));                       // 9 / 30
        Assert.Equal("list_ratio", TextFactory.Reason(Filter, text + "\n"));  // 10 / 30
    }
}
