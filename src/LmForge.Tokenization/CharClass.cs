using System.Globalization;
using System.Runtime.CompilerServices;

namespace LmForge.Tokenization;

// The Unicode classes the split patterns test (\p{L} and its parts, \p{M}, \p{N}, \s), as bit flags of one byte,
// looked up per code point: a 64 K table for the BMP, CharUnicodeInfo for astral code points (emoji, math letters).
internal static class CharClass
{
    public const int Upper = 1;        // Lu, Lt
    public const int Lower = 2;        // Ll
    public const int LetterOther = 4;  // Lm, Lo
    public const int Mark = 8;         // Mn, Mc, Me
    public const int Number = 16;      // Nd, Nl, No
    public const int Space = 32;       // Unicode White_Space, as regex \s
    public const int Newline = 64;     // '\r' or '\n' (also Space)
    public const int HighSurrogate = 128;

    public const int Letter = Upper | Lower | LetterOther;
    // "[^\s\p{L}\p{N}]": neither space, letter nor number (marks and lone surrogates included).
    public const int NotOther = Letter | Number | Space;

    private static readonly byte[] BmpTable = BuildBmpTable();

    private static byte[] BuildBmpTable()
    {
        var table = new byte[65536];
        for (int c = 0; c < 65536; c++)
        {
            char ch = (char)c;
            if (char.IsHighSurrogate(ch)) table[c] = HighSurrogate;
            else if (char.IsLowSurrogate(ch)) table[c] = 0;
            else if (char.IsWhiteSpace(ch)) table[c] = (byte)(ch is '\r' or '\n' ? Space | Newline : Space);
            else table[c] = FromCategory(CharUnicodeInfo.GetUnicodeCategory(ch));
        }
        return table;
    }

    private static byte FromCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter => Upper,
        UnicodeCategory.LowercaseLetter => Lower,
        UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => LetterOther,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => Mark,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => Space,
        _ => 0,
    };

    /// <summary>Class of the code point at <paramref name="index"/> and its width in UTF-16 units (2 for a
    /// surrogate pair). A lone surrogate is class 0 ("other"), like the U+FFFD it becomes in UTF-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int At(ReadOnlySpan<char> text, int index, out int width)
    {
        int cls = Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(BmpTable), text[index]);
        width = 1;
        if (cls == HighSurrogate) return Astral(text, index, out width);
        return cls;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Astral(ReadOnlySpan<char> text, int index, out int width)
    {
        if (index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            int codePoint = char.ConvertToUtf32(text[index], text[index + 1]);
            return FromCategory(CharUnicodeInfo.GetUnicodeCategory(codePoint));
        }
        width = 1;
        return 0;
    }
}
