using System.Runtime.CompilerServices;

namespace LmForge.Data.LanguageId;

/// <summary>Receives the hashed n-gram features of a text one at a time (a struct, so the call is inlined).</summary>
public interface IFeatureSink
{
    void Add(int bucket);
}

/// <summary>
/// The features language identification reads: character n-grams of lengths 1..5 of the text, hashed into 2^bits
/// buckets. The text is seen lower-cased, with every run of non-letters (spaces, digits, punctuation, symbols) folded
/// into one space and a space before and after, so " the " and "he " are n-grams but numbers and markup are not. Each
/// n-gram is hashed with FNV-1a from its last character back to its first; one pass, a 5-character window, no
/// allocation.
/// </summary>
public static class CharNGramFeatures
{
    public const int MaxOrder = 5;
    private const ulong FnvBasis = 0xCBF29CE484222325UL;
    private const ulong FnvPrime = 0x100000001B3UL;

    public static void Extract<TSink>(ReadOnlySpan<char> text, int bucketBits, ref TSink sink) where TSink : struct, IFeatureSink, allows ref struct
    {
        int shift = 64 - bucketBits;
        Span<char> window = stackalloc char[MaxOrder];
        int seen = 0;
        bool lastWasSpace = false;
        Push(' ', window, ref seen, shift, ref sink);
        lastWasSpace = true;
        foreach (char raw in text)
        {
            char c;
            if (raw < 128)
            {
                if (raw is >= 'a' and <= 'z') c = raw;
                else if (raw is >= 'A' and <= 'Z') c = (char)(raw + 32);
                else c = ' ';
            }
            else if (char.IsLetter(raw) || char.GetUnicodeCategory(raw) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark)
            {
                c = char.ToLowerInvariant(raw);
            }
            else c = ' ';
            if (c == ' ')
            {
                if (lastWasSpace) continue;
                lastWasSpace = true;
            }
            else lastWasSpace = false;
            Push(c, window, ref seen, shift, ref sink);
        }
        if (!lastWasSpace) Push(' ', window, ref seen, shift, ref sink);
    }

    // Adds the n-grams ending at c (n = 1..5, as far back as the window reaches); a lone space is no feature.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push<TSink>(char c, scoped Span<char> window, ref int seen, int shift, ref TSink sink) where TSink : struct, IFeatureSink, allows ref struct
    {
        window[seen % MaxOrder] = c;
        seen++;
        int available = Math.Min(seen, MaxOrder);
        ulong h = FnvBasis;
        for (int n = 1; n <= available; n++)
        {
            h = (h ^ window[(seen - n) % MaxOrder]) * FnvPrime;
            if (n == 1 && c == ' ') continue;
            sink.Add((int)((h * 0x9E3779B97F4A7C15UL) >> shift));
        }
    }
}
