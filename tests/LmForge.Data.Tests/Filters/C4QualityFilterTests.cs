using LmForge.Data.Filters.Quality;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Filters;

public class C4QualityFilterTests
{
    private static readonly C4QualityFilter Filter = new();

    private static string Sentence(TextFactory f, int words = 6) => char.ToUpperInvariant(f.Word(6)[0]) + f.Words(words, 6)[1..] + ".";

    [Fact]
    public void Defaults_AreFineWebsRun()
    {
        var o = new C4QualityOptions();
        Assert.False(o.FilterNoTerminalPunctuation);
        Assert.Equal((5, 3, 1000, true, true, true, true, true), (o.MinSentences, o.MinWordsPerLine, o.MaxWordLength, o.RemoveCitations, o.FilterLoremIpsum, o.FilterJavascript, o.FilterCurlyBracket, o.FilterPolicy));
    }

    [Fact]
    public void Sentences_BiteBelowFive_CountingSeveralPerLine()
    {
        var f = new TextFactory();
        var five = $"{Sentence(f)} {Sentence(f)}\n{Sentence(f)} {Sentence(f)}\n{Sentence(f)}";
        Assert.Null(TextFactory.Reason(Filter, five));
        var four = $"{Sentence(f)} {Sentence(f)}\n{Sentence(f)}\n{Sentence(f)}";
        Assert.Equal("too_few_sentences", TextFactory.Reason(Filter, four));
        // An abbreviation or a lower-case continuation is no sentence break.
        Assert.Equal(1, C4QualityFilter.CountSentences("Mr. Smith met Dr. Jones at 5 p.m. yesterday."));
        Assert.Equal(3, C4QualityFilter.CountSentences("It rained. Was it cold? \"Yes!\" he said."));
    }

    [Fact]
    public void LinesWithFewerThanThreeWords_AreDropped()
    {
        var f = new TextFactory();
        var lines = Enumerable.Range(0, 5).Select(_ => Sentence(f)).ToList();
        var document = new Document("d", string.Join('\n', lines.Take(4)) + "\nTwo words.\n" + lines[4]);
        Assert.Null(TextFactory.Reason(Filter, document));
        Assert.Equal(string.Join('\n', lines), document.Text);
        lines[4] = "Three short words.";
        Assert.Null(TextFactory.Reason(Filter, string.Join('\n', lines)));
        lines[4] = "Too short.";
        Assert.Equal("too_few_sentences", TextFactory.Reason(Filter, string.Join('\n', lines)));
    }

    [Fact]
    public void LinesWithAWordOver1000Chars_AreDropped()
    {
        var f = new TextFactory();
        var lines = Enumerable.Range(0, 4).Select(_ => Sentence(f)).ToList();
        Assert.Null(TextFactory.Reason(Filter, string.Join('\n', lines) + "\nA long " + new string('x', 1000) + " word."));
        Assert.Equal("too_few_sentences", TextFactory.Reason(Filter, string.Join('\n', lines) + "\nA long " + new string('x', 1001) + " word."));
    }

    [Theory]
    [InlineData("We enable JavaScript here.")]
    [InlineData("Read our Privacy Policy now.")]
    [InlineData("This site uses cookies daily.")]
    public void JavascriptAndPolicyLines_AreDropped(string badLine)
    {
        var f = new TextFactory();
        var lines = Enumerable.Range(0, 5).Select(_ => Sentence(f)).ToList();
        var document = new Document("d", string.Join('\n', lines) + "\n" + badLine);
        Assert.Null(TextFactory.Reason(Filter, document));
        Assert.DoesNotContain(badLine, document.Text, StringComparison.Ordinal);
        lines.RemoveAt(0);
        Assert.Equal("too_few_sentences", TextFactory.Reason(Filter, string.Join('\n', lines) + "\n" + badLine));
    }

    [Theory]
    [InlineData("Lorem Ipsum dolor sit amet.", "lorem_ipsum")]
    [InlineData("The set {a, b} is small.", "curly_bracket")]
    public void LoremIpsumAndCurlyBracket_DropTheDocument(string badLine, string reason)
    {
        var f = new TextFactory();
        var lines = Enumerable.Range(0, 6).Select(_ => Sentence(f));
        Assert.Equal(reason, TextFactory.Reason(Filter, string.Join('\n', lines) + "\n" + badLine));
    }

    [Fact]
    public void Citations_AreRemoved_AndTerminalPunctuationRuleIsOptional()
    {
        var f = new TextFactory();
        var lines = Enumerable.Range(0, 5).Select(_ => Sentence(f)).ToList();
        var document = new Document("d", string.Join('\n', lines) + "\nA cited claim[12] here[citation needed].\nno end punctuation here");
        Assert.Null(TextFactory.Reason(Filter, document));
        Assert.Contains("A cited claim here.", document.Text, StringComparison.Ordinal);
        Assert.Contains("no end punctuation here", document.Text, StringComparison.Ordinal);
        var strict = new C4QualityFilter(new C4QualityOptions { FilterNoTerminalPunctuation = true });
        var strictDocument = new Document("d", string.Join('\n', lines) + "\nno end punctuation here\nends with dots...");
        Assert.Null(TextFactory.Reason(strict, strictDocument));
        Assert.Equal(string.Join('\n', lines), strictDocument.Text);
    }

    [Fact]
    public void LineCounters_AreReported()
    {
        var f = new TextFactory();
        var stats = new PipelineStats();
        var text = string.Join('\n', Enumerable.Range(0, 5).Select(_ => Sentence(f))) + "\nJavaScript is required here.\nab";
        _ = Filter.Run([new Document("d", text)], new TaskContext(0, 1, stats)).ToList();
        var counters = stats.For("c4_quality").Counters;
        Assert.Equal(7, counters["line-total"]);
        Assert.Equal(5, counters["line-kept"]);
        Assert.Equal(1, counters["line-filter-javascript"]);
        Assert.Equal(1, counters["line-filter-too_few_words"]);
    }
}
