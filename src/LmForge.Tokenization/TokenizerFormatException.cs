namespace LmForge.Tokenization;

/// <summary>A tokenizer file is malformed; the message names the file and the line or JSON path.</summary>
public sealed class TokenizerFormatException : FormatException
{
    public TokenizerFormatException() { }

    public TokenizerFormatException(string message) : base(message) { }

    public TokenizerFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>
    /// A key, value or line of a damaged file, fit for a one-line message: at most 60 characters, control
    /// characters (line breaks included) escaped as \uXXXX.
    /// </summary>
    internal static string Excerpt(string text)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in text.Length <= 60 ? text : text[..57]) sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return text.Length <= 60 ? sb.ToString() : sb.Append("...").ToString();
    }
}
