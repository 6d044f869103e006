namespace LmForge.Tokenization;

/// <summary>The text holds a special token's text that the encode call did not allow (tiktoken's policy).</summary>
public sealed class DisallowedSpecialTokenException : ArgumentException
{
    public DisallowedSpecialTokenException(string token, int offset)
        : base($"text contains the special token '{token}' at char offset {offset}, which this call disallows: " +
               $"pass it in allowedSpecial to encode it as the special token, or call EncodeOrdinary (or leave it out " +
               $"of disallowedSpecial) to encode it as plain text")
    {
        Token = token;
        Offset = offset;
    }

    public DisallowedSpecialTokenException() { Token = ""; }

    public DisallowedSpecialTokenException(string message) : base(message) { Token = ""; }

    public DisallowedSpecialTokenException(string message, Exception innerException) : base(message, innerException) { Token = ""; }

    /// <summary>The special token's text.</summary>
    public string Token { get; }

    /// <summary>Offset in UTF-16 units of its first occurrence.</summary>
    public int Offset { get; }
}
