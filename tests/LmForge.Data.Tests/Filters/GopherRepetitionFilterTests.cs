using System.Text;
using LmForge.Data.Filters.Quality;

namespace LmForge.Data.Tests.Filters;

// Each rule alone (the others switched off) on texts whose ratio sits exactly on the threshold (kept: the rules drop
// only above it) and one step past it (dropped with the rule's name). Lengths are counted by hand in the comments.
public class GopherRepetitionFilterTests
{
    private static readonly GopherRepetitionOptions AllOff = new()
    {
        DuplicateLineFraction = null, DuplicateParagraphFraction = null,
        DuplicateLineCharacterFraction = null, DuplicateParagraphCharacterFraction = null,
        TopNGrams = [], DuplicatedNGrams = [],
    };

    [Fact]
    public void Defaults_AreGophersTableA1()
    {
        var o = new GopherRepetitionOptions();
        Assert.Equal((0.3, 0.3, 0.2, 0.2), (o.DuplicateLineFraction, o.DuplicateParagraphFraction, o.DuplicateLineCharacterFraction, o.DuplicateParagraphCharacterFraction));
        Assert.Equal([(2, 0.20), (3, 0.18), (4, 0.16)], o.TopNGrams);
        Assert.Equal([(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)], o.DuplicatedNGrams);
    }

    // unique pieces, then one short piece repeated (repeats + 1) times; fraction = repeats / (unique + repeats + 1).
    private static string Pieces(TextFactory f, int unique, int repeats, string separator)
    {
        var pieces = Enumerable.Range(0, unique).Select(_ => f.Words(6, 6)).ToList();
        var repeated = f.Word(4);
        for (int i = 0; i <= repeats; i++) pieces.Add(repeated);
        return string.Join(separator, pieces);
    }

    [Theory]
    [InlineData("\n\n", "dup_para_frac")]
    [InlineData("\n", "dup_line_frac")]
    public void DuplicateElementFraction_BitesAbove30Percent(string separator, string reason)
    {
        var f = new TextFactory();
        var options = separator == "\n\n" ? AllOff with { DuplicateParagraphFraction = 0.3 } : AllOff with { DuplicateLineFraction = 0.3 };
        var filter = new GopherRepetitionFilter(options);
        Assert.Null(TextFactory.Reason(filter, Pieces(f, unique: 6, repeats: 3, separator)));   // 3/10 = 0.30
        Assert.Equal(reason, TextFactory.Reason(filter, Pieces(f, unique: 6, repeats: 4, separator))); // 4/11 = 0.36
    }

    // A 200-char piece twice among unique pieces; the whole text is `total` chars: 200/1000 = 0.2 kept, 200/999 dropped.
    private static string DuplicateCharacters(TextFactory f, int total, string separator)
    {
        var repeated = f.Words(25, 7) + " " + f.Word(7); // 26 words x 7 + 25 spaces = 207 chars
        repeated = repeated[..200].TrimEnd() + new string('q', 200 - repeated[..200].TrimEnd().Length);
        Assert.Equal(200, repeated.Length);
        var head = new StringBuilder(f.Words(10, 7)).Append(separator).Append(repeated).Append(separator).Append(repeated).Append(separator);
        int prefix = head.Length;
        var tail = new StringBuilder();
        f.PadWithWords(tail, total - prefix);
        return head.Append(tail).ToString();
    }

    [Theory]
    [InlineData("\n\n", "dup_para_char_frac")]
    [InlineData("\n", "dup_line_char_frac")]
    public void DuplicateCharacterFraction_BitesAbove20Percent(string separator, string reason)
    {
        var f = new TextFactory();
        var options = separator == "\n\n" ? AllOff with { DuplicateParagraphCharacterFraction = 0.2 } : AllOff with { DuplicateLineCharacterFraction = 0.2 };
        var filter = new GopherRepetitionFilter(options);
        Assert.Null(TextFactory.Reason(filter, DuplicateCharacters(f, 1000, separator)));
        Assert.Equal(reason, TextFactory.Reason(filter, DuplicateCharacters(f, 999, separator)));
    }

    // The top n-gram occurs 4 times and is (chars/4) long with spaces, so it covers fraction x 1000 chars of a
    // 1000-char text: on the threshold. The same in a 999-char text is just above.
    [Theory]
    [InlineData(2, 0.20, new[] { 24, 25 })]          // 24+25+1 = 50, x4 = 200
    [InlineData(3, 0.18, new[] { 14, 14, 15 })]      // 43+2 = 45, x4 = 180
    [InlineData(4, 0.16, new[] { 9, 9, 9, 10 })]     // 37+3 = 40, x4 = 160
    public void TopNGram_BitesAboveItsFraction(int n, double fraction, int[] wordLengths)
    {
        foreach (var (total, expected) in new[] { (1000, (string?)null), (999, $"top_{n}_gram") })
        {
            var f = new TextFactory();
            var gram = string.Join(' ', wordLengths.Select(f.Word));
            var filter = new GopherRepetitionFilter(AllOff with { TopNGrams = [(n, fraction)] });
            Assert.Equal(expected, TextFactory.Reason(filter, f.Compose(total, gram, gram, gram, gram)));
        }
    }

    // An n-gram seen twice: its characters without spaces (fraction x 1000) repeat once in a 1000-char text.
    [Theory]
    [InlineData(5, 0.15)]
    [InlineData(6, 0.14)]
    [InlineData(7, 0.13)]
    [InlineData(8, 0.12)]
    [InlineData(9, 0.11)]
    [InlineData(10, 0.10)]
    public void DuplicatedNGrams_BiteAboveTheirFraction(int n, double fraction)
    {
        int chars = (int)Math.Round(fraction * 1000);
        foreach (var (total, expected) in new[] { (1000, (string?)null), (999, $"duplicated_{n}_n_grams") })
        {
            var f = new TextFactory();
            var lengths = Enumerable.Range(0, n).Select(i => chars / n + (i < chars % n ? 1 : 0)).ToArray();
            Assert.Equal(chars, lengths.Sum());
            var gram = string.Join(' ', lengths.Select(f.Word));
            var filter = new GopherRepetitionFilter(AllOff with { DuplicatedNGrams = [(n, fraction)] });
            Assert.Equal(expected, TextFactory.Reason(filter, f.Compose(total, gram, gram)));
        }
    }

    [Fact]
    public void DuplicatedNGrams_OverlappingRepeatsCountOnce()
    {
        // "a b c d e a b c d e a b c d e": the 5-grams at 5 and 10 repeat; the scan jumps 5 words past each, so 2 x 5 letters.
        var filter = new GopherRepetitionFilter(AllOff with { DuplicatedNGrams = [(5, 10.0 / 29 - 1e-9)] });
        Assert.Equal("duplicated_5_n_grams", TextFactory.Reason(filter, "a b c d e a b c d e a b c d e")); // 29 chars
        var lenient = new GopherRepetitionFilter(AllOff with { DuplicatedNGrams = [(5, 10.0 / 29 + 1e-9)] });
        Assert.Null(TextFactory.Reason(lenient, "a b c d e a b c d e a b c d e"));
    }

    [Fact]
    public void OrdinaryProse_IsKeptWithDefaults()
    {
        var f = new TextFactory();
        var text = string.Join("\n", Enumerable.Range(0, 12).Select(_ => "The " + f.Words(12, 6) + " of " + f.Words(5, 5) + "."));
        Assert.Null(TextFactory.Reason(new GopherRepetitionFilter(), text));
        Assert.Equal("empty_document", TextFactory.Reason(new GopherRepetitionFilter(), ""));
    }
}
