using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tokenization;

// Hand-written equivalents of the three tiktoken split regexes. Each returns the length (in UTF-16 units) of the
// regex match that starts at `start`; the patterns cover every character, so consecutive matches tile the text.
// Classes are taken per code point (a surrogate pair is one character), as the Rust regex engine does on UTF-8.
// The scanners (and the merge loop) are AggressiveOptimization: at tier 0 their helpers are not inlined, and a
// first encode of a few MB ran at half speed until tiering caught up (measured as gpt2, first in the bench, at 6-8x).
internal interface IPieceScanner
{
    static abstract int PieceLength(ReadOnlySpan<char> text, int start);
}

internal static class ScanRules
{
    /// <summary>The path the vectorised loops (<see cref="LetterRunEnd"/>, BpeTokenizer's ASCII narrowing) take here:
    /// "Vector128", or "scalar" where the hardware or DOTNET_EnableHWIntrinsic=0 turns 128-bit vectors off (test.sh's
    /// scalar re-run checks that it really is scalar there).</summary>
    public static string VectorPath => Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    // 's|'t|'re|'ve|'m|'ll|'d at text[start] == '\''; case-insensitive folds as Unicode simple case folding does
    // (so U+017F LATIN SMALL LETTER LONG S also matches 's'). Returns 0 when none matches.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Contraction(ReadOnlySpan<char> text, int start, bool ignoreCase)
    {
        if (start + 1 >= text.Length) return 0;
        char a = Fold(text[start + 1], ignoreCase);
        switch (a)
        {
            case 's' or 't' or 'm' or 'd':
                return 2;
            case 'r' or 'v' or 'l':
                if (start + 2 >= text.Length) return 0;
                char b = Fold(text[start + 2], ignoreCase);
                return (a == 'l' ? b == 'l' : b == 'e') ? 3 : 0;
            default:
                return 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static char Fold(char c, bool ignoreCase)
    {
        if (!ignoreCase) return c;
        if ((uint)(c - 'A') <= 'Z' - 'A') return (char)(c | 0x20);
        return c == '\u017F' ? 's' : c;
    }

    /// <summary>End of the run of code points whose class intersects <paramref name="mask"/>, from <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RunEnd(ReadOnlySpan<char> text, int index, int mask)
    {
        while (index < text.Length)
        {
            int cls = CharClass.At(text, index, out int width);
            if ((cls & mask) == 0) break;
            index += width;
        }
        return index;
    }

    /// <summary>End of the run of \p{L} code points from <paramref name="index"/>. Most words are ASCII and short, so
    /// eight characters are tested at once and the table walk only resumes at a non-ASCII character.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LetterRunEnd(ReadOnlySpan<char> text, int index)
    {
        ref ushort chars = ref Unsafe.As<char, ushort>(ref MemoryMarshal.GetReference(text));
        while (Vector128.IsHardwareAccelerated && index <= text.Length - Vector128<ushort>.Count)
        {
            // (c | 0x20) - 'a' <= 25 exactly for A-Z and a-z; anything else, non-ASCII included, stops the run.
            Vector128<ushort> folded = Vector128.LoadUnsafe(ref chars, (nuint)index) | Vector128.Create((ushort)0x20);
            uint stops = Vector128.GreaterThan(folded - Vector128.Create((ushort)'a'), Vector128.Create((ushort)('z' - 'a'))).ExtractMostSignificantBits();
            if (stops == 0)
            {
                index += Vector128<ushort>.Count;
                continue;
            }
            index += BitOperations.TrailingZeroCount(stops);
            if (text[index] < 0x80) return index;
            break;
        }
        return RunEnd(text, index, CharClass.Letter);
    }

    /// <summary>End of the run of "[^\s\p{L}\p{N}]" code points from <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int OtherRunEnd(ReadOnlySpan<char> text, int index)
    {
        while (index < text.Length)
        {
            int cls = CharClass.At(text, index, out int width);
            if ((cls & CharClass.NotOther) != 0) break;
            index += width;
        }
        return index;
    }

    /// <summary>At most three \p{N} code points from <paramref name="index"/> (\p{N}{1,3}).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NumberGroupEnd(ReadOnlySpan<char> text, int index)
    {
        for (int count = 0; count < 3 && index < text.Length; count++)
        {
            int cls = CharClass.At(text, index, out int width);
            if ((cls & CharClass.Number) == 0) break;
            index += width;
        }
        return index;
    }

    /// <summary>The whitespace alternatives at a whitespace character: `\s*[\r\n]+` (when <paramref name="newlineRule"/>),
    /// then `\s+(?!\S)`, then `\s+`. Returns the match length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Whitespace(ReadOnlySpan<char> text, int start, bool newlineRule)
    {
        int end = start;
        int lastNewline = -1;
        while (end < text.Length)
        {
            char c = text[end];
            int cls = CharClass.At(text, end, out _);
            if ((cls & CharClass.Space) == 0) break;
            if (c is '\r' or '\n') lastNewline = end;
            end++;
        }
        // \s*[\r\n]+ : greedy \s* backs off to the last newline of the run, [\r\n]+ takes it.
        if (newlineRule && lastNewline >= 0) return lastNewline + 1 - start;
        // \s+(?!\S) : the whole run at the end of text, else all but its last character (which must stay before \S).
        if (end == text.Length || end - start == 1) return end - start;
        return end - 1 - start;
    }
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
internal struct Gpt2Scanner : IPieceScanner
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int PieceLength(ReadOnlySpan<char> text, int start)
    {
        char c = text[start];
        if (c == '\'')
        {
            int k = ScanRules.Contraction(text, start, ignoreCase: false);
            if (k > 0) return k;
        }
        int index = start;
        int cls = CharClass.At(text, index, out int width);
        if (c == ' ' && start + 1 < text.Length)
        {
            int next = CharClass.At(text, start + 1, out int nextWidth);
            if ((next & CharClass.Space) == 0)
            {
                index = start + 1;
                cls = next;
                width = nextWidth;
            }
        }
        if ((cls & CharClass.Letter) != 0) return ScanRules.LetterRunEnd(text, index + width) - start;
        if ((cls & CharClass.Number) != 0) return ScanRules.RunEnd(text, index + width, CharClass.Number) - start;
        if ((cls & CharClass.Space) == 0) return ScanRules.OtherRunEnd(text, index + width) - start;
        return ScanRules.Whitespace(text, start, newlineRule: false);
    }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
internal struct Cl100kScanner : IPieceScanner
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int PieceLength(ReadOnlySpan<char> text, int start)
    {
        char c = text[start];
        if (c == '\'')
        {
            int k = ScanRules.Contraction(text, start, ignoreCase: true);
            if (k > 0) return k;
        }
        int cls = CharClass.At(text, start, out int width);
        if ((cls & CharClass.Letter) != 0) return ScanRules.LetterRunEnd(text, start + width) - start;
        int next = -1;
        int nextWidth = 0;
        if (start + width < text.Length) next = CharClass.At(text, start + width, out nextWidth);
        if ((cls & (CharClass.Number | CharClass.Newline)) == 0 && next >= 0 && (next & CharClass.Letter) != 0)
            return ScanRules.LetterRunEnd(text, start + width + nextWidth) - start;
        if ((cls & CharClass.Number) != 0) return ScanRules.NumberGroupEnd(text, start) - start;
        int otherStart = -1;
        if ((cls & CharClass.NotOther) == 0) otherStart = start;
        else if (c == ' ' && next >= 0 && (next & CharClass.NotOther) == 0) otherStart = start + 1;
        if (otherStart >= 0)
        {
            int end = ScanRules.OtherRunEnd(text, otherStart);
            while (end < text.Length && text[end] is '\r' or '\n') end++;
            return end - start;
        }
        return ScanRules.Whitespace(text, start, newlineRule: true);
    }
}

// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
// |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
// |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
internal struct O200kScanner : IPieceScanner
{
    private const int UpperSet = CharClass.Upper | CharClass.LetterOther | CharClass.Mark; // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
    private const int LowerSet = CharClass.Lower | CharClass.LetterOther | CharClass.Mark; // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
    private const int BothSets = CharClass.LetterOther | CharClass.Mark;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int PieceLength(ReadOnlySpan<char> text, int start)
    {
        int cls = CharClass.At(text, start, out int width);
        // The regex tries: first alternative with the optional prefix, then without, then the second likewise.
        bool prefix = (cls & (CharClass.Letter | CharClass.Number | CharClass.Newline)) == 0 && start + width < text.Length;
        bool wordStart = (cls & (CharClass.Letter | CharClass.Mark)) != 0;
        int end;
        if (prefix && (end = UpperStarLowerPlus(text, start + width)) >= 0) return WithContraction(text, end) - start;
        if (wordStart && (end = UpperStarLowerPlus(text, start)) >= 0) return WithContraction(text, end) - start;
        if (prefix && (end = UpperPlusLowerStar(text, start + width)) >= 0) return WithContraction(text, end) - start;
        if (wordStart && (end = UpperPlusLowerStar(text, start)) >= 0) return WithContraction(text, end) - start;

        if ((cls & CharClass.Number) != 0) return ScanRules.NumberGroupEnd(text, start) - start;
        int otherStart = -1;
        if ((cls & CharClass.NotOther) == 0) otherStart = start;
        else if (text[start] == ' ' && start + 1 < text.Length && (CharClass.At(text, start + 1, out _) & CharClass.NotOther) == 0)
            otherStart = start + 1;
        if (otherStart >= 0)
        {
            end = ScanRules.OtherRunEnd(text, otherStart);
            while (end < text.Length && text[end] is '\r' or '\n' or '/') end++;
            return end - start;
        }
        return ScanRules.Whitespace(text, start, newlineRule: true);
    }

    // [UpperSet]*[LowerSet]+ from index; -1 when it cannot match. Greedy star then backtracking: if the character
    // after the UpperSet run is lowercase, the LowerSet run continues from it; otherwise the match ends after the
    // last run character that is in both sets.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int UpperStarLowerPlus(ReadOnlySpan<char> text, int index)
    {
        int lastBothEnd = -1;
        while (index < text.Length)
        {
            int cls = CharClass.At(text, index, out int width);
            if ((cls & UpperSet) == 0)
            {
                if ((cls & CharClass.Lower) != 0) return ScanRules.RunEnd(text, index + width, LowerSet);
                break;
            }
            index += width;
            if ((cls & BothSets) != 0) lastBothEnd = index;
        }
        return lastBothEnd;
    }

    // [UpperSet]+[LowerSet]* from index; -1 when the first character is not in UpperSet.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int UpperPlusLowerStar(ReadOnlySpan<char> text, int index)
    {
        int end = ScanRules.RunEnd(text, index, UpperSet);
        if (end == index) return -1;
        return ScanRules.RunEnd(text, end, LowerSet);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WithContraction(ReadOnlySpan<char> text, int end)
    {
        if (end < text.Length && text[end] == '\'') end += ScanRules.Contraction(text, end, ignoreCase: true);
        return end;
    }
}
