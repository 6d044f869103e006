using System.Text;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// Decode(Encode(x)) == x on random strings and random bytes (seeded), and on pieces long enough for the heap merge.
public class RoundTripTests
{
    private static readonly int[] CodePointPool = BuildPool();

    private static int[] BuildPool()
    {
        var pool = new List<int>();
        for (int c = 0x20; c < 0x7F; c++) pool.Add(c);
        pool.AddRange([' ', ' ', ' ', '\t', '\n', '\r', 0xA0, 0x3000, 0x2028, '\'', 'S', 's', 0x17F]);
        pool.AddRange([0xE9, 0xDF, 0x301, 0x308, 0x4E2D, 0x65E5, 0xD55C, 0x639, 0x5D0, 0x915, 0x94D, 0xE01, 0xE31, 0x3B1, 0x416]);
        pool.AddRange([0x1F600, 0x1F44D, 0x1F3FD, 0x200D, 0x1F1EB, 0x1D7CF, 0x10437, 0xFFFD, 0xFEFF, 0x0, 0x1F]);
        return [.. pool];
    }

    private static string RandomText(Random random, int maxLength)
    {
        var sb = new StringBuilder();
        int n = random.Next(1, maxLength);
        for (int i = 0; i < n; i++) sb.Append(char.ConvertFromUtf32(CodePointPool[random.Next(CodePointPool.Length)]));
        return sb.ToString();
    }

    [TiktokenTheory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void RandomStrings_RoundTrip(string encoding)
    {
        var tokenizer = TiktokenOracle.Tokenizer(encoding);
        var random = new Random(20230828);
        for (int i = 0; i < 3000; i++)
        {
            string text = RandomText(random, 40);
            int[] ids = tokenizer.EncodeOrdinary(text);
            Assert.Equal(Encoding.UTF8.GetBytes(text), tokenizer.Decode(ids));
            Assert.Equal(text, tokenizer.DecodeText(ids));
        }
    }

    [TiktokenTheory]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void RandomBytes_RoundTripAsTheirUtf8Decoding(string encoding)
    {
        // Bytes reach the tokenizer as a string: invalid UTF-8 becomes U+FFFD there, and comes back as EF BF BD.
        var tokenizer = TiktokenOracle.Tokenizer(encoding);
        var random = new Random(20230828);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(1, 48)];
            random.NextBytes(bytes);
            string text = Encoding.UTF8.GetString(bytes);
            Assert.Equal(Encoding.UTF8.GetBytes(text), tokenizer.Decode(tokenizer.EncodeOrdinary(text)));
        }
    }

    [TiktokenFact]
    public void LoneSurrogates_EncodeAsReplacementCharacter()
    {
        var tokenizer = TiktokenOracle.Tokenizer("cl100k_base");
        Assert.Equal(tokenizer.EncodeOrdinary("a\uFFFDb"), tokenizer.EncodeOrdinary("a\uD800b"));
        Assert.Equal(tokenizer.EncodeOrdinary("\uFFFD"), tokenizer.EncodeOrdinary("\uDC00"));
    }

    [TiktokenTheory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void LongPiecesWithoutSpaces_RoundTrip(string encoding)
    {
        // 200 KB single pieces: a quadratic merge would not finish within the test run.
        var tokenizer = TiktokenOracle.Tokenizer(encoding);
        var random = new Random(20230828);
        var letters = new char[200_000];
        for (int i = 0; i < letters.Length; i++) letters[i] = (char)('a' + random.Next(26));
        string word = new(letters);
        string digits = new('7', 100_000);
        foreach (string text in new[] { word, digits, string.Concat(Enumerable.Repeat("é中", 50_000)) })
        {
            int[] ids = tokenizer.EncodeOrdinary(text);
            Assert.Equal(text, tokenizer.DecodeText(ids));
            Assert.True(ids.Length < Encoding.UTF8.GetByteCount(text), "long pieces must merge");
        }
    }

    [TiktokenFact]
    public void StreamingDecoder_ReassemblesRealText_WithoutSplittingCharacters()
    {
        var tokenizer = TiktokenOracle.Tokenizer("o200k_base");
        foreach (string text in TiktokenOracle.ReadCases("udhr").Take(150))
        {
            // Cases are cut at a fixed length, which can leave a lone surrogate: that encodes as U+FFFD.
            string expected = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
            bool sourceHasReplacement = expected.Contains('\uFFFD', StringComparison.Ordinal);
            var decoder = tokenizer.CreateStreamingDecoder();
            var output = new StringBuilder();
            foreach (int id in tokenizer.EncodeOrdinary(text))
            {
                string chunk = decoder.Append(id);
                if (!sourceHasReplacement) Assert.DoesNotContain('\uFFFD', chunk);
                if (chunk.Length > 0) Assert.False(char.IsHighSurrogate(chunk[^1]), "a chunk ends inside a surrogate pair");
                output.Append(chunk);
            }
            output.Append(decoder.Flush());
            Assert.Equal(expected, output.ToString());
        }
    }
}
