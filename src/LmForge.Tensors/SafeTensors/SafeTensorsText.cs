using System.Text;

namespace LmForge.Tensors.SafeTensors;

// Formatting for one-line error messages (safetensors headers here, config.json in LmForge.Models). Names and strings come from untrusted files, so they are escaped
// (no control characters, no line breaks) and cut short before they go into a message.
internal static class SafeTensorsText
{
    /// <summary>A shape in brackets; a damaged header's shape of thousands of dimensions shows its first eight and the count.</summary>
    public static string Shape(IReadOnlyList<int> shape) =>
        shape.Count <= 8 ? "[" + string.Join(", ", shape) + "]" : "[" + string.Join(", ", shape.Take(8)) + $", ... ({shape.Count} dimensions)]";

    public static string Shape(ReadOnlySpan<int> shape) => Shape((IReadOnlyList<int>)shape.ToArray());

    public static string Quote(string text)
    {
        const int maxLength = 120;
        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 2);
        builder.Append('\'');
        for (int i = 0; i < text.Length && i < maxLength; i++)
        {
            char c = text[i];
            if (char.IsControl(c) || c == '\'') builder.Append($"\\u{(int)c:X4}");
            else builder.Append(c);
        }
        if (text.Length > maxLength) builder.Append("...");
        builder.Append('\'');
        return builder.ToString();
    }

    public static string OneLine(string text) => text.Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>A JSON value as the file has it, on one line and at most 120 characters.</summary>
    public static string Json(System.Text.Json.JsonElement value)
    {
        // the raw bytes, not GetRawText, which throws on the invalid UTF-8 a damaged file may hold
        string raw = System.Text.Encoding.UTF8.GetString(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value));
        string text = string.Join(' ', raw.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return text.Length <= 120 ? text : text[..117] + "...";
    }
}
