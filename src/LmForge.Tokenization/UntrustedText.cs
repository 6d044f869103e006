using System.Text;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace LmForge.Tokenization;

/// <summary>
/// Text from an untrusted file made fit for a one-line error message: cut short, control characters (line breaks
/// included) escaped as \uXXXX. Used by every reader above this leaf (tokenizer files, chat JSONL, recipes, configs).
/// </summary>
public static class UntrustedText
{
    /// <summary>At most 60 characters of <paramref name="text"/> ("..." marks a cut), control characters escaped.</summary>
    public static string Excerpt(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text.Length <= 60 ? text : text[..57]) sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return text.Length <= 60 ? sb.ToString() : sb.Append("...").ToString();
    }

    /// <summary>A JSON value as the file has it, on one line and cut short (invalid UTF-8 shown as U+FFFD, where GetRawText would throw).</summary>
    public static string Json(JsonElement value) => Excerpt(string.Join(' ', Encoding.UTF8.GetString(JsonMarshal.GetRawUtf8Value(value)).Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));

    /// <summary>
    /// Where and why JSON did not parse: "line L, byte B: reason", the reason cut short (System.Text.Json quotes the
    /// offending token, which in a damaged file can be any length of anything).
    /// </summary>
    public static string JsonError(JsonException e) =>
        e.LineNumber is long line
            ? $"line {line + 1}, byte {e.BytePositionInLine + 1}: {Excerpt(Reason(e.Message))}"
            : Excerpt(Reason(e.Message));

    // System.Text.Json ends its messages with " LineNumber: 0 | BytePositionInLine: 5.", which JsonError says itself.
    static string Reason(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return at > 0 ? message[..at] : message;
    }
}
