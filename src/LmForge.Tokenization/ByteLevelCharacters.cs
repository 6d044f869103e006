namespace LmForge.Tokenization;

// GPT-2's byte <-> character table (bytes_to_unicode), used by encoder.json, vocab.bpe and byte-level tokenizer.json:
// bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for the same code point; the other 68 bytes take U+0100, U+0101, ...
// in byte order.
internal static class ByteLevelCharacters
{
    private static readonly char[] CharOfByte = new char[256];
    private static readonly short[] ByteOfChar = new short[0x144];

    static ByteLevelCharacters()
    {
        Array.Fill(ByteOfChar, (short)-1);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            char c = printable ? (char)b : (char)next++;
            CharOfByte[b] = c;
            ByteOfChar[c] = (short)b;
        }
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes a byte-level string stands for; null (and the offending char index) when a char is not in the table.</summary>
    public static byte[]? TryDecode(string text, out int badIndex)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= ByteOfChar.Length || ByteOfChar[c] < 0)
            {
                badIndex = i;
                return null;
            }
            bytes[i] = (byte)ByteOfChar[c];
        }
        badIndex = -1;
        return bytes;
    }
}
