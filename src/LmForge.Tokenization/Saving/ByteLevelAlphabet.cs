using System.Text;

namespace LmForge.Tokenization.Saving;

/// <summary>
/// GPT-2's byte ↔ character table ("bytes_to_unicode"), used by byte-level BPE files (vocab.bpe, tokenizer.json):
/// the printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves, the other 68 bytes are given
/// the characters U+0100, U+0101, ... in byte order, so every token is a string without spaces or controls.
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] CharOfByte = Build();

    static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
            text.Append(CharOfByte[b]);
        return text.ToString();
    }
}
