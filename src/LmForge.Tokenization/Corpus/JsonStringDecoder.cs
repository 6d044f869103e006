using System.Globalization;
using System.Text;

namespace LmForge.Tokenization.Corpus;

/// <summary>
/// Decodes a JSON string whose escapes include a lone UTF-16 surrogate (<c>"\ud83d"</c>: valid JSON, written by
/// Python for an emoji cut in half), which System.Text.Json refuses to turn into a string. Each lone surrogate
/// becomes U+FFFD, as the encoder would map it anyway.
/// </summary>
public static class JsonStringDecoder
{
    /// <summary>
    /// The value of the string whose raw UTF-8 text between the quotes is <paramref name="escaped"/> (already
    /// validated by a JSON reader: valid UTF-8, well-formed escapes).
    /// </summary>
    public static string DecodeReplacingLoneSurrogates(ReadOnlySpan<byte> escaped)
    {
        var text = new StringBuilder(escaped.Length);
        while (!escaped.IsEmpty)
        {
            int backslash = escaped.IndexOf((byte)'\\');
            if (backslash < 0)
            {
                text.Append(Encoding.UTF8.GetString(escaped));
                break;
            }
            text.Append(Encoding.UTF8.GetString(escaped[..backslash]));
            escaped = escaped[backslash..];
            if (escaped.Length < 2)
                throw new FormatException("JSON string ends inside an escape");
            if (escaped[1] != (byte)'u')
            {
                text.Append(escaped[1] switch
                {
                    (byte)'"' => '"',
                    (byte)'\\' => '\\',
                    (byte)'/' => '/',
                    (byte)'b' => '\b',
                    (byte)'f' => '\f',
                    (byte)'n' => '\n',
                    (byte)'r' => '\r',
                    (byte)'t' => '\t',
                    _ => throw new FormatException($"invalid JSON escape \\{(char)escaped[1]}"),
                });
                escaped = escaped[2..];
                continue;
            }
            char unit = ReadUnit(escaped);
            escaped = escaped[6..];
            if (char.IsHighSurrogate(unit) && escaped.Length >= 6 && escaped[0] == (byte)'\\' && escaped[1] == (byte)'u'
                && char.IsLowSurrogate(ReadUnit(escaped)))
            {
                text.Append(unit).Append(ReadUnit(escaped));
                escaped = escaped[6..];
            }
            else
            {
                text.Append(char.IsSurrogate(unit) ? '\uFFFD' : unit);
            }
        }
        return text.ToString();
    }

    static char ReadUnit(ReadOnlySpan<byte> escape)
    {
        if (escape.Length < 6 || !ushort.TryParse(escape[2..6], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort unit))
            throw new FormatException("invalid JSON \\u escape");
        return (char)unit;
    }
}
