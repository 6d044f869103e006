using System.Text;
using LmForge.Data.Dedup;

namespace LmForge.Data.Filters.Quality;

/// <summary>Text facts shared by the quality filters: punctuation classes, Python-style line splitting, duplicate counting.</summary>
public static class QualityText
{
    // Sentence-ending marks of the major scripts (datatrove's TERMINAL_PUNCTUATION holds these and rarer historic ones).
    private static readonly HashSet<int> TerminalPunctuation =
    [
        '.', '!', '?', '。', '！', '？', '．', '｡', '﹒', '﹖', '﹗', '।', '॥', '؟', '۔', '؞', '܀', '܁', '܂', '‼', '‽', '⁇', '⁈', '⁉',
        '։', '።', '፧', '፨', '။', '၊', '។', '៕', '៖', '᙮', '᠃', '᠉', '꓿', '꘎', '꘏', '꛳', '꛷', '⸮', '⸼', '߹', '᥄', '᥅',
    ];

    /// <summary>datatrove's PUNCTUATION_SET, approximately: ASCII punctuation and symbols, control characters, and every
    /// Unicode punctuation character (its list names a few dozen CJK/fullwidth marks, all of which are Unicode punctuation).</summary>
    public static bool IsPunctuation(char c)
    {
        if (c < 128) return char.IsPunctuation(c) || char.IsSymbol(c) || (char.IsControl(c) && c is not ('\t' or '\n' or '\r'));
        if (c is >= '\u007F' and <= '\u009F') return true;
        return char.IsPunctuation(c) || c is '━' or '►' or '´' or '∶' or '～' or '％' or '１' or '„';
    }

    /// <summary>True when text ends with a sentence-ending mark (the last character, as Python's str.endswith).</summary>
    public static bool EndsWithTerminalPunctuation(ReadOnlySpan<char> line)
    {
        if (line.IsEmpty) return false;
        if (Rune.DecodeLastFromUtf16(line, out var rune, out _) != System.Buffers.OperationStatus.Done) return false;
        return TerminalPunctuation.Contains(rune.Value);
    }

    /// <summary>Python's str.splitlines(): breaks at \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029; no empty last line.</summary>
    public static void SplitLinesPython(string text, List<WordSpan> lines)
    {
        lines.Clear();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(new WordSpan(start, i - start));
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < text.Length) lines.Add(new WordSpan(start, text.Length - start));
    }

    /// <summary>datatrove's find_duplicates: walks the segments in order; a segment seen before counts as a duplicate,
    /// and its characters as duplicate characters.</summary>
    public static (int Elements, int Characters) CountDuplicates(string text, List<WordSpan> segments, HashSet<ulong> scratch)
    {
        scratch.Clear();
        int elements = 0, characters = 0;
        foreach (var segment in segments)
        {
            if (!scratch.Add(StableHash.Hash64(segment.In(text))))
            {
                elements++;
                characters += segment.Length;
            }
        }
        return (elements, characters);
    }
}
