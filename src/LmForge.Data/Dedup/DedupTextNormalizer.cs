using System.Globalization;
using LmForge.Data.Filters.Quality;

namespace LmForge.Data.Dedup;

/// <summary>
/// Turns a document into the hashes of its normalized words, as datatrove's simplify_text does before dedup:
/// diacritics removed (NFD, combining marks dropped), lower case, every number (digits with at most one decimal part
/// such as 3.14 or 1,000) written as "0", punctuation turned into spaces, whitespace collapsed; the words are then the
/// space-separated pieces. Only word hashes are produced: no string is allocated per word.
/// Diacritics: combining marks are dropped, and the precomposed letters of Latin-1 and Latin Extended-A (à, ç, ő, š,
/// ...) are folded by a table to the letter NFD would leave (the tool runs with invariant globalization, which has no
/// Unicode normalization); precomposed letters of other blocks are kept as they are.
/// </summary>
public sealed class DedupTextNormalizer
{
    // U+00C0..U+017F: the base letter (lower case) of each precomposed letter, '.' where NFD leaves the letter whole.
    private const string LatinFolding =
        "aaaaaa.ceeeeiiii" + ".nooooo..uuuuy.." + "aaaaaa.ceeeeiiii" + ".nooooo..uuuuy.y" +
        "aaaaaaccccccccdd" + "..eeeeeeeeeegggg" + "gggghh..iiiiiiii" + "i...jjkk.llllll." +
        "...nnnnnn...oooo" + "oo..rrrrrrssssss" + "sstttt..uuuuuuuu" + "uuuuwwyyyzzzzzz.";

    private char[] _word = new char[64];

    /// <summary>Clears wordHashes and appends the hash of each normalized word of text.</summary>
    public void WordHashes(string text, List<ulong> wordHashes)
    {
        wordHashes.Clear();
        int length = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 128)
            {
                if (c is >= 'a' and <= 'z') Append(ref length, c);
                else if (c is >= 'A' and <= 'Z') Append(ref length, (char)(c + 32));
                else if (c is >= '0' and <= '9') i = SkipNumber(text, i, ref length);
                else Flush(wordHashes, ref length);
                continue;
            }
            if (c is >= '\u00C0' and <= '\u017F' && LatinFolding[c - 0xC0] != '.')
            {
                Append(ref length, LatinFolding[c - 0xC0]);
                continue;
            }
            var category = char.GetUnicodeCategory(c);
            if (category == UnicodeCategory.NonSpacingMark) continue;
            if (category == UnicodeCategory.DecimalDigitNumber) i = SkipNumber(text, i, ref length);
            else if (char.IsWhiteSpace(c) || QualityText.IsPunctuation(c)) Flush(wordHashes, ref length);
            else Append(ref length, char.ToLowerInvariant(c));
        }
        Flush(wordHashes, ref length);
    }

    // A run of digits, optionally one separator and more digits, becomes the single character '0'.
    private int SkipNumber(string text, int i, ref int length)
    {
        Append(ref length, '0');
        while (i + 1 < text.Length && char.IsDigit(text[i + 1])) i++;
        if (i + 2 < text.Length && text[i + 1] is '.' or ',' or '،' or '٫' or '⎖' or '⎗' or '⎘' && char.IsDigit(text[i + 2]))
        {
            i += 2;
            while (i + 1 < text.Length && char.IsDigit(text[i + 1])) i++;
        }
        return i;
    }

    private void Append(ref int length, char c)
    {
        if (length == _word.Length) Array.Resize(ref _word, _word.Length * 2);
        _word[length++] = c;
    }

    private void Flush(List<ulong> wordHashes, ref int length)
    {
        if (length == 0) return;
        wordHashes.Add(StableHash.Hash64(_word.AsSpan(0, length)));
        length = 0;
    }
}
