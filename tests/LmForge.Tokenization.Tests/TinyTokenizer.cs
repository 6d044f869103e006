using System.Text;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// A hand-made tokenizer whose ids are known by construction: bytes 0..255 have ids 0..255, then "ab" = 256,
// "abc" = 257, " a" = 258; special tokens "<|end|>" = 300 and "<|pad|>" = 301.
internal static class TinyTokenizer
{
    public const int Ab = 256, Abc = 257, SpaceA = 258, End = 300, Pad = 301;

    public static List<KeyValuePair<byte[], int>> Ranks()
    {
        var ranks = new List<KeyValuePair<byte[], int>>();
        for (int b = 0; b < 256; b++) ranks.Add(new([(byte)b], b));
        ranks.Add(new("ab"u8.ToArray(), Ab));
        ranks.Add(new("abc"u8.ToArray(), Abc));
        ranks.Add(new(" a"u8.ToArray(), SpaceA));
        return ranks;
    }

    public static BpeTokenizer Create() => BpeTokenizer.FromRanks(Ranks(), SplitPattern.Gpt2,
        new Dictionary<string, int> { ["<|end|>"] = End, ["<|pad|>"] = Pad }, "tiny");

    public static int Byte(char c) => (byte)c;

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
