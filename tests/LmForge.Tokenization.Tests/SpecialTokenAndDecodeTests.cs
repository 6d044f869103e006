using System.Text;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

public class SpecialTokenAndDecodeTests
{
    private static readonly BpeTokenizer Tiny = TinyTokenizer.Create();

    [Fact]
    public void Encode_MergesByRank_AsConstructed()
    {
        // "abc" is one token; " abx" is " a" (rank 258) ... no: "ab" (256) merges before " a" (258), so " ", "ab", "x".
        Assert.Equal([TinyTokenizer.Abc], Tiny.Encode("abc"));
        Assert.Equal([TinyTokenizer.Byte(' '), TinyTokenizer.Ab, TinyTokenizer.Byte('x')], Tiny.Encode(" abx"));
        Assert.Equal([TinyTokenizer.SpaceA, TinyTokenizer.Byte('x')], Tiny.Encode(" ax"));
    }

    [Fact]
    public void Encode_DisallowedSpecialText_ThrowsNamingTokenOffsetAndRemedy()
    {
        var e = Assert.Throws<DisallowedSpecialTokenException>(() => Tiny.Encode("hi <|end|> there"));
        Assert.Equal("<|end|>", e.Token);
        Assert.Equal(3, e.Offset);
        Assert.Contains("'<|end|>'", e.Message);
        Assert.Contains("allowedSpecial", e.Message);
        Assert.Contains("EncodeOrdinary", e.Message);
    }

    [Fact]
    public void Encode_AllowedSpecial_BecomesItsId_OtherSpecialStillThrows()
    {
        int[] ids = Tiny.Encode("x<|end|>y", SpecialTokenSet.Of("<|end|>"));
        Assert.Equal([TinyTokenizer.Byte('x'), TinyTokenizer.End, TinyTokenizer.Byte('y')], ids);
        var e = Assert.Throws<DisallowedSpecialTokenException>(() => Tiny.Encode("<|end|><|pad|>", SpecialTokenSet.Of("<|end|>")));
        Assert.Equal("<|pad|>", e.Token);
    }

    [Fact]
    public void Encode_ManyAllowedSpecials_AllFoundInOrder()
    {
        var text = new System.Text.StringBuilder();
        var expected = new List<int>();
        var random = new Random(20230828);
        for (int i = 0; i < 20_000; i++)
        {
            bool end = random.Next(2) == 0;
            text.Append(end ? "<|end|>" : "<|pad|>").Append('x');
            expected.Add(end ? TinyTokenizer.End : TinyTokenizer.Pad);
            expected.Add(TinyTokenizer.Byte('x'));
        }
        Assert.Equal(expected, Tiny.Encode(text.ToString(), SpecialTokenSet.All));
    }

    [Fact]
    public void Encode_OverlappingSpecials_LongerWinsAtSameOffset()
    {
        var tokenizer = BpeTokenizer.FromRanks(TinyTokenizer.Ranks(), SplitPattern.Gpt2,
            new Dictionary<string, int> { ["<|a|>"] = 300, ["<|a|>b"] = 301, ["|>b<"] = 302 });
        Assert.Equal([301, 300], tokenizer.Encode("<|a|>b<|a|>", SpecialTokenSet.All));
        Assert.Equal([300, TinyTokenizer.Byte('c')], tokenizer.Encode("<|a|>c", SpecialTokenSet.All));
    }

    [Fact]
    public void Encode_SpecialNeitherAllowedNorDisallowed_IsPlainText()
    {
        int[] ids = Tiny.Encode("<|pad|><|end|>", SpecialTokenSet.Of("<|end|>"), SpecialTokenSet.None);
        Assert.Equal(TinyTokenizer.End, ids[^1]);
        Assert.DoesNotContain(TinyTokenizer.Pad, ids);
        Assert.Equal("<|pad|>", Encoding.UTF8.GetString(Tiny.Decode(ids[..^1])));
    }

    [Fact]
    public void EncodeOrdinary_TreatsSpecialTextAsPlain()
    {
        int[] ids = Tiny.EncodeOrdinary("<|end|>");
        Assert.DoesNotContain(TinyTokenizer.End, ids);
        Assert.Equal("<|end|>", Tiny.DecodeText(ids));
    }

    [Fact]
    public void Encode_UnknownSpecialName_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny.Encode("x", SpecialTokenSet.Of("<|nope|>")));
        Assert.Contains("'<|nope|>' is not a special token of tiny", e.Message);
    }

    [Fact]
    public void Decode_UnknownId_ThrowsNamingIdAndPosition()
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny.Decode([65, 999]));
        Assert.Contains("token id 999 at position 1", e.Message);
        Assert.Throws<ArgumentException>(() => Tiny.Decode([-1]));
        // 259..299 is a gap between ordinary and special ids.
        Assert.Contains("token id 280", Assert.Throws<ArgumentException>(() => Tiny.DecodeText([280])).Message);
        Assert.Equal(302, Tiny.VocabularySize);
    }

    [Fact]
    public void DecodeText_InvalidUtf8_BecomesReplacementCharacter()
    {
        // "é" is C3 A9: its first byte alone is invalid UTF-8.
        Assert.Equal("a\uFFFD", Tiny.DecodeText([TinyTokenizer.Byte('a'), 0xC3]));
        Assert.Equal("é", Tiny.DecodeText([0xC3, 0xA9]));
    }

    [Fact]
    public void StreamingDecoder_HoldsBackPartialCharacters()
    {
        var decoder = Tiny.CreateStreamingDecoder();
        byte[] emoji = Encoding.UTF8.GetBytes("😀"); // F0 9F 98 80
        Assert.Equal("a", decoder.Append(TinyTokenizer.Byte('a')));
        Assert.Equal("", decoder.Append(emoji[0]));
        Assert.Equal("", decoder.Append(emoji[1]));
        Assert.Equal("", decoder.Append(emoji[2]));
        Assert.Equal("😀", decoder.Append(emoji[3]));
        Assert.Equal("", decoder.Append(0xC3));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Throws<ArgumentException>(() => decoder.Append(999));
    }

    [Fact]
    public void SpecialTokens_Lookup()
    {
        Assert.Equal(TinyTokenizer.End, Tiny.GetSpecialTokenId("<|end|>"));
        Assert.Equal(2, Tiny.SpecialTokens.Count);
        Assert.Contains("<|end|>", Assert.Throws<KeyNotFoundException>(() => Tiny.GetSpecialTokenId("<|x|>")).Message);
    }

    [Fact]
    public void FromRanks_BadRanks_Throw()
    {
        var missingByte = TinyTokenizer.Ranks().Where(r => !(r.Key.Length == 1 && r.Key[0] == 0x0A)).ToList();
        Assert.Contains("lacks the single byte 0x0A", Assert.Throws<ArgumentException>(() => BpeTokenizer.FromRanks(missingByte, SplitPattern.Gpt2)).Message);
        var duplicateToken = TinyTokenizer.Ranks().Append(new("ab"u8.ToArray(), 400)).ToList();
        Assert.Contains("'ab' appears twice", Assert.Throws<ArgumentException>(() => BpeTokenizer.FromRanks(duplicateToken, SplitPattern.Gpt2)).Message);
        var duplicateRank = TinyTokenizer.Ranks().Append(new("xy"u8.ToArray(), 256)).ToList();
        Assert.Contains("token id 256 is given twice", Assert.Throws<ArgumentException>(() => BpeTokenizer.FromRanks(duplicateRank, SplitPattern.Gpt2)).Message);
        var specialClash = new Dictionary<string, int> { ["<|x|>"] = 65 };
        Assert.Contains("token id 65 is given twice", Assert.Throws<ArgumentException>(() => BpeTokenizer.FromRanks(TinyTokenizer.Ranks(), SplitPattern.Gpt2, specialClash)).Message);
    }
}
