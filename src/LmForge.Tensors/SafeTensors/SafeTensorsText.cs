using System.Text;

namespace LmForge.Tensors.SafeTensors;

// Formatting for one-line error messages. Names and strings come from untrusted files, so they are escaped
// (no control characters, no line breaks) and cut short before they go into a message.
internal static class SafeTensorsText
{
    public static string Shape(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    public static string Shape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

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
}
