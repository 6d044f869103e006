using System.Globalization;

namespace LmForge.Data.Filters.Quality;

/// <summary>
/// English word tokenization in the manner of NLTK's word_tokenize (Penn Treebank rules), which datatrove uses for
/// its quality filters, written as one left-to-right scan that yields ranges into the text:
/// - text is split on whitespace; inside a chunk, brackets, quotes, ; @ # $ % &amp; ? ! and Unicode open/close/quote
///   punctuation are tokens of their own; "..." and "--" are one token each;
/// - a comma or colon is split off only at the end of a chunk (so "1,000" and "12:30" stay whole);
/// - a final period is split off unless the chunk looks like an abbreviation (an internal period as in "U.S.", a
///   single letter as in "J.", or a common title such as "Mr."), standing in for Punkt's sentence boundaries;
/// - the clitics 's 'm 'd 're 've 'll and n't are split off the end ("don't" gives "do" "n't"), as Treebank does.
/// Differences from NLTK: quotes are kept as typed (NLTK rewrites " as `` and ''), and Punkt's learned abbreviation
/// list is replaced by the short list below. Word counts and ratios agree with NLTK on ordinary prose.
/// </summary>
public static class QualityWordTokenizer
{
    private static readonly string[] Titles = ["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "no"];

    /// <summary>Appends the words of text to words (cleared first).</summary>
    public static void Split(string text, List<WordSpan> words)
    {
        words.Clear();
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            if (i > start) SplitChunk(text, start, i, words);
        }
    }

    public static List<WordSpan> Split(string text)
    {
        var words = new List<WordSpan>();
        Split(text, words);
        return words;
    }

    // Splits the chunk text[start..end) (no whitespace inside) into tokens.
    private static void SplitChunk(string text, int start, int end, List<WordSpan> words)
    {
        // Tail tokens are peeled off the end first and added after the body, in order.
        Span<WordSpan> tail = stackalloc WordSpan[8];
        int tailCount = 0;
        int bodyStart = start;
        while (true)
        {
            // Leading always-split punctuation.
            while (bodyStart < end && IsAlwaysSplit(text, bodyStart, end, out int len))
            {
                words.Add(new WordSpan(bodyStart, len));
                bodyStart += len;
            }
            if (bodyStart >= end) return;
            // Find the next always-split symbol inside the chunk: the text before it is a body, handled below.
            int j = bodyStart;
            int symbolLength = 0;
            while (j < end && !IsAlwaysSplit(text, j, end, out symbolLength)) j++;
            EmitBody(text, bodyStart, j, words, tail, ref tailCount, isChunkEnd: j == end);
            if (j == end) return;
            bodyStart = j;
        }
    }

    private static void EmitBody(string text, int start, int end, List<WordSpan> words, Span<WordSpan> tail, ref int tailCount, bool isChunkEnd)
    {
        tailCount = 0;
        if (isChunkEnd)
        {
            // Trailing comma / colon / period / single quote, then a clitic.
            while (end > start && tailCount < tail.Length - 1)
            {
                char last = text[end - 1];
                if (last is ',' or ':' or '\'')
                {
                    tail[tailCount++] = new WordSpan(end - 1, 1);
                    end--;
                    continue;
                }
                if (last == '.' && end - start > 1 && !IsAbbreviation(text.AsSpan(start, end - start)))
                {
                    tail[tailCount++] = new WordSpan(end - 1, 1);
                    end--;
                    continue;
                }
                break;
            }
            int clitic = CliticLength(text.AsSpan(start, end - start));
            if (clitic > 0 && clitic < end - start)
            {
                tail[tailCount++] = new WordSpan(end - clitic, clitic);
                end -= clitic;
            }
        }
        if (end > start && text[start] == '\'' && end - start > 1 && CliticLength(text.AsSpan(start, end - start)) != end - start)
        {
            words.Add(new WordSpan(start, 1));
            start++;
        }
        if (end > start) words.Add(new WordSpan(start, end - start));
        for (int k = tailCount - 1; k >= 0; k--) words.Add(tail[k]);
    }

    private static bool IsAlwaysSplit(string text, int i, int end, out int length)
    {
        char c = text[i];
        length = 1;
        if (c == '.' && i + 2 < end && text[i + 1] == '.' && text[i + 2] == '.')
        {
            length = 3;
            while (i + length < end && text[i + length] == '.') length++;
            return true;
        }
        if (c == '-' && i + 1 < end && text[i + 1] == '-')
        {
            length = 2;
            return true;
        }
        switch (c)
        {
            case ';' or '@' or '#' or '$' or '%' or '&' or '?' or '!' or '(' or ')' or '[' or ']' or '{' or '}' or '<' or '>' or '"' or '`' or '…':
                return true;
        }
        if (c < 128) return false;
        var category = char.GetUnicodeCategory(c);
        return category is UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation;
    }

    private static bool IsAbbreviation(ReadOnlySpan<char> tokenWithPeriod)
    {
        var body = tokenWithPeriod[..^1];
        if (body.Length == 1 && char.IsLetter(body[0])) return true;
        if (body.Contains('.')) return true;
        foreach (var title in Titles)
            if (body.Equals(title, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    // Length of a Treebank clitic at the end of token ('s 'm 'd 're 've 'll n't), or 0.
    private static int CliticLength(ReadOnlySpan<char> token)
    {
        if (token.EndsWith("n't", StringComparison.OrdinalIgnoreCase)) return 3;
        if (token.EndsWith("'ll", StringComparison.OrdinalIgnoreCase) || token.EndsWith("'re", StringComparison.OrdinalIgnoreCase)
            || token.EndsWith("'ve", StringComparison.OrdinalIgnoreCase)) return 3;
        if (token.EndsWith("'s", StringComparison.OrdinalIgnoreCase) || token.EndsWith("'m", StringComparison.OrdinalIgnoreCase)
            || token.EndsWith("'d", StringComparison.OrdinalIgnoreCase)) return 2;
        return 0;
    }
}
