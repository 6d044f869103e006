using System.Text;

namespace LmForge.Tokenization;

/// <summary>
/// Decodes tokens as they arrive (streaming generation): each call returns only whole characters and keeps the
/// bytes of a character cut between tokens until the rest arrives. Invalid UTF-8 becomes U+FFFD.
/// Not thread-safe: one per stream.
/// </summary>
public sealed class StreamingTokenDecoder
{
    private readonly BpeTokenizer _tokenizer;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    internal StreamingTokenDecoder(BpeTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>The text completed by <paramref name="token"/> (possibly empty).</summary>
    /// <exception cref="ArgumentException">The id is not in the vocabulary.</exception>
    public string Append(int token) => Convert(_tokenizer.GetTokenBytes(token), flush: false);

    /// <summary>The text completed by <paramref name="tokens"/> (possibly empty).</summary>
    public string Append(ReadOnlySpan<int> tokens) => Convert(_tokenizer.Decode(tokens), flush: false);

    /// <summary>Ends the stream: the held bytes of an unfinished character come out as U+FFFD.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int count = _utf8.GetChars(bytes, _chars, flush);
        return new string(_chars, 0, count);
    }
}
