using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

public class SplitPatternTests
{
    // cl100k's pattern with possessive quantifiers wherever they cannot change a match.
    private const string PossessiveCl100k =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s*[\r\n]+|\s+(?!\S)|\s+";

    [Fact]
    public void FromRegex_KnownPatterns_ReturnTheScanners()
    {
        Assert.Same(SplitPattern.Gpt2, SplitPattern.FromRegex(SplitPattern.Gpt2.Regex));
        Assert.Same(SplitPattern.Cl100k, SplitPattern.FromRegex(SplitPattern.Cl100k.Regex));
        Assert.Same(SplitPattern.O200k, SplitPattern.FromRegex(SplitPattern.O200k.Regex));
        Assert.Equal("mine", SplitPattern.FromRegex(@"\w+|\W", "mine").Name);
    }

    [Fact]
    public void FromRegex_InvalidPattern_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => SplitPattern.FromRegex("(ab", "broken"));
        Assert.Contains("split pattern 'broken' is not a valid regex", e.Message);
    }

    [Theory]
    [InlineData(@"a++", @"(?>a+)")]
    [InlineData(@"[^\s\p{L}]++x", @"(?>[^\s\p{L}]+)x")]
    [InlineData(@"\p{N}{1,3}+", @"(?>\p{N}{1,3})")]
    [InlineData(@"(ab|c)*+", @"(?>(ab|c)*)")]
    [InlineData(@"a?+b*?c", @"(?>a?)b*?c")]
    [InlineData(@"\s++$", @"(?>\s+)\z")]
    [InlineData(@"[$]x", @"[$]x")]
    public void PossessiveQuantifiers_BecomeAtomicGroups(string pattern, string expected) =>
        Assert.Equal(expected, RegexSplitPattern.RewritePossessiveQuantifiers(pattern));

    [Fact]
    public void EnumeratePieces_TilesTheText()
    {
        const string text = "Hello, world!  It's 2024\r\n\tok 😀👍🏽";
        int next = 0;
        var pieces = new List<string>();
        foreach (Range piece in SplitPattern.Cl100k.EnumeratePieces(text))
        {
            Assert.Equal(next, piece.Start.Value);
            next = piece.End.Value;
            pieces.Add(text[piece]);
        }
        Assert.Equal(text.Length, next);
        Assert.Equal(["Hello", ",", " world", "!", " ", " It", "'s", " ", "202", "4", "\r\n", "\tok", " 😀👍🏽"], pieces);
    }

    [TiktokenTheory]
    [InlineData("english")]
    [InlineData("french")]
    [InlineData("adversarial")]
    public void RegexPath_SplitsLikeTheScanner_OnBmpText(string set)
    {
        // The scanners are proven by tiktoken; the .NET Regex path (used for custom patterns) must split the same
        // wherever .NET's per-UTF-16-unit classes agree, i.e. on text without astral characters, and where .NET's
        // (?i) agrees with Unicode simple case folding: it does not fold U+017F (long s) to 's' as Rust does.
        var patterns = new (SplitPattern Scanner, SplitPattern Regex)[]
        {
            (SplitPattern.Gpt2, new RegexSplitPattern("gpt2-regex", SplitPattern.Gpt2.Regex)),
            (SplitPattern.Cl100k, new RegexSplitPattern("cl100k-regex", SplitPattern.Cl100k.Regex)),
            (SplitPattern.Cl100k, new RegexSplitPattern("cl100k-possessive", PossessiveCl100k)),
            (SplitPattern.O200k, new RegexSplitPattern("o200k-regex", SplitPattern.O200k.Regex)),
        };
        foreach (string text in TiktokenOracle.ReadCases(set).Where(t => !t.Any(c => char.IsSurrogate(c) || c == '\u017F')))
        {
            string sample = text.Length > 300_000 ? text[..300_000] : text;
            foreach (var (scanner, regex) in patterns)
            {
                var expected = Pieces(scanner, sample);
                var actual = Pieces(regex, sample);
                if (expected.SequenceEqual(actual)) continue;
                int i = 0;
                while (expected[i] == actual[i]) i++;
                Assert.Fail($"{regex.Name} differs from the scanner at piece {i}: '{TiktokenExactnessTests.Escape(actual[i])}' vs '{TiktokenExactnessTests.Escape(expected[i])}'");
            }
        }
    }

    private static List<string> Pieces(SplitPattern pattern, string text)
    {
        var pieces = new List<string>();
        foreach (Range piece in pattern.EnumeratePieces(text)) pieces.Add(text[piece]);
        return pieces;
    }
}
