using System.Text;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// Every id must equal tiktoken's, for all three encodings, on real text in many languages and on adversarial strings.
public class TiktokenExactnessTests
{
    public static TheoryData<string, string> SetsAndEncodings()
    {
        var data = new TheoryData<string, string>();
        foreach (string set in new[] { "english", "brown", "french", "german", "udhr", "adversarial" })
            foreach (string encoding in TiktokenOracle.Encodings) data.Add(set, encoding);
        return data;
    }

    [TiktokenTheory]
    [MemberData(nameof(SetsAndEncodings))]
    public void EncodeOrdinary_MatchesTiktoken(string set, string encoding)
    {
        var tokenizer = TiktokenOracle.Tokenizer(encoding);
        var cases = TiktokenOracle.ReadCases(set);
        var expected = TiktokenOracle.ReadIds(set, encoding, "ordinary");
        Assert.Equal(cases.Count, expected.Count);
        AssertAllEqual(tokenizer, cases, expected, c => tokenizer.EncodeOrdinary(c));
    }

    [TiktokenTheory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void EncodeAllowingAllSpecials_MatchesTiktoken(string encoding)
    {
        var tokenizer = TiktokenOracle.Tokenizer(encoding);
        var cases = TiktokenOracle.ReadCases("adversarial");
        var expected = TiktokenOracle.ReadIds("adversarial", encoding, "all");
        AssertAllEqual(tokenizer, cases, expected, c => tokenizer.Encode(c, SpecialTokenSet.All));
    }

    [TiktokenFact]
    public void EncodeOrdinary_FromManyThreads_MatchesTiktoken()
    {
        // One tokenizer shared by several threads (each has its own piece cache).
        var tokenizer = TiktokenOracle.Tokenizer("o200k_base");
        var cases = TiktokenOracle.ReadCases("udhr").Concat(TiktokenOracle.ReadCases("adversarial")).ToList();
        var expected = TiktokenOracle.ReadIds("udhr", "o200k_base", "ordinary").Concat(TiktokenOracle.ReadIds("adversarial", "o200k_base", "ordinary")).ToList();
        int failures = 0;
        Parallel.For(0, cases.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (!tokenizer.EncodeOrdinary(cases[i]).AsSpan().SequenceEqual(expected[i])) Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);
    }

    private static void AssertAllEqual(BpeTokenizer tokenizer, List<string> cases, List<int[]> expected, Func<string, int[]> encode)
    {
        int failures = 0;
        var report = new StringBuilder();
        for (int i = 0; i < cases.Count; i++)
        {
            int[] ours = encode(cases[i]);
            if (ours.AsSpan().SequenceEqual(expected[i])) continue;
            if (failures++ < 5) report.AppendLine(Describe(tokenizer, i, cases[i], expected[i], ours));
        }
        Assert.True(failures == 0, $"{failures} of {cases.Count} cases differ from tiktoken ({tokenizer.Name}):\n{report}");
    }

    private static string Describe(BpeTokenizer tokenizer, int index, string text, int[] expected, int[] ours)
    {
        int first = 0;
        while (first < expected.Length && first < ours.Length && expected[first] == ours[first]) first++;
        int from = Math.Max(0, first - 3);
        string Window(int[] ids) => string.Join(" ", ids.Skip(from).Take(8).Select(id => $"{id}:'{Escape(tokenizer.DecodeText([id]))}'"));
        return $"case {index} ({text.Length} chars, starts '{Escape(text[..Math.Min(40, text.Length)])}'): first difference at token {first}\n" +
               $"  tiktoken: {Window(expected)}\n  ours:     {Window(ours)}";
    }

    internal static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s) sb.Append(c < 0x20 || c is >= '\ud800' and <= '\udfff' ? $"\\u{(int)c:X4}" : c.ToString());
        return sb.ToString();
    }
}
