namespace LmForge.Tokenization;

/// <summary>A tokenizer file is malformed; the message names the file and the line or JSON path.</summary>
public sealed class TokenizerFormatException : FormatException
{
    public TokenizerFormatException() { }

    public TokenizerFormatException(string message) : base(message) { }

    public TokenizerFormatException(string message, Exception innerException) : base(message, innerException) { }
}
