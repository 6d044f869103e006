using System.Text;
using System.Text.RegularExpressions;

namespace LmForge.Tokenization;

// A user-supplied split pattern run by .NET Regex (for tokenizers trained with a pattern of their own).
internal sealed class RegexSplitPattern : SplitPattern
{
    private readonly Regex _regex;

    public RegexSplitPattern(string name, string pattern) : base(name, pattern)
    {
        string dotnetPattern = RewritePossessiveQuantifiers(pattern);
        try
        {
            _regex = new Regex(dotnetPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"split pattern '{name}' is not a valid regex: {e.Message}", nameof(pattern), e);
        }
    }

    public override int PieceLength(ReadOnlySpan<char> text, int start)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)start, (uint)text.Length, nameof(start));
        int length = text.Length - start; // no further non-empty match: the rest is one piece
        foreach (ValueMatch match in _regex.EnumerateMatches(text, start))
        {
            if (match.Length == 0) continue;
            // Text the pattern skips becomes a piece of its own rather than being dropped.
            length = match.Index > start ? match.Index - start : match.Length;
            break;
        }
        int end = start + length;
        if (end < text.Length && char.IsHighSurrogate(text[end - 1]) && char.IsLowSurrogate(text[end])) end++;
        return end - start;
    }

    // .NET has no possessive quantifiers: `atom++` becomes `(?>atom+)`, likewise `*+`, `?+` and `{n,m}+`;
    // `$` becomes `\z` (end of text, as in the Rust and Python engines the patterns come from).
    internal static string RewritePossessiveQuantifiers(string pattern)
    {
        var output = new StringBuilder(pattern.Length + 16);
        var atomStarts = new Stack<int>(); // output positions of open groups
        int lastAtomStart = -1;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\')
            {
                lastAtomStart = output.Length;
                output.Append(c);
                if (i + 1 < pattern.Length)
                {
                    char e = pattern[++i];
                    output.Append(e);
                    if ((e is 'p' or 'P') && i + 1 < pattern.Length && pattern[i + 1] == '{')
                    {
                        int close = pattern.IndexOf('}', i + 1);
                        if (close < 0) close = pattern.Length - 1;
                        output.Append(pattern, i + 1, close - i);
                        i = close;
                    }
                }
            }
            else if (c == '[')
            {
                lastAtomStart = output.Length;
                int j = i + 1;
                if (j < pattern.Length && pattern[j] == '^') j++;
                if (j < pattern.Length && pattern[j] == ']') j++;
                while (j < pattern.Length && pattern[j] != ']')
                {
                    if (pattern[j] == '\\') j++;
                    j++;
                }
                int end = Math.Min(j, pattern.Length - 1);
                output.Append(pattern, i, end - i + 1);
                i = end;
            }
            else if (c == '(')
            {
                atomStarts.Push(output.Length);
                output.Append(c);
                lastAtomStart = -1;
            }
            else if (c == ')')
            {
                output.Append(c);
                lastAtomStart = atomStarts.Count > 0 ? atomStarts.Pop() : -1;
            }
            else if (c is '*' or '+' or '?' or '{')
            {
                int quantifierEnd = i;
                if (c == '{')
                {
                    int close = pattern.IndexOf('}', i);
                    if (close < 0)
                    {
                        output.Append(c);
                        lastAtomStart = output.Length - 1;
                        continue;
                    }
                    quantifierEnd = close;
                }
                string quantifier = pattern.Substring(i, quantifierEnd - i + 1);
                i = quantifierEnd;
                if (i + 1 < pattern.Length && pattern[i + 1] == '+' && lastAtomStart >= 0)
                {
                    i++;
                    output.Insert(lastAtomStart, "(?>");
                    output.Append(quantifier).Append(')');
                }
                else
                {
                    output.Append(quantifier);
                    if (i + 1 < pattern.Length && pattern[i + 1] == '?') output.Append(pattern[++i]); // lazy
                }
                lastAtomStart = -1;
            }
            else if (c == '$')
            {
                // Rust/Python `$` (no multiline) is the end of text; .NET's also matches before a final '\n'.
                output.Append(@"\z");
                lastAtomStart = -1;
            }
            else
            {
                lastAtomStart = c == '|' ? -1 : output.Length;
                output.Append(c);
            }
        }
        return output.ToString();
    }
}
