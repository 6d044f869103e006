using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace LmForge.Tokenization.Corpus;

/// <summary>
/// Turns a <see cref="CorpusChunk"/> into document text. Text files must be valid UTF-8: an invalid byte is
/// reported with its byte offset in the (decompressed) file rather than silently replaced, because a corpus
/// with stray Latin-1 bytes is usually a mistake the user wants to hear about.
/// </summary>
public static class CorpusDocuments
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    static readonly byte[] TextField = "text"u8.ToArray();

    /// <summary>The text of a <see cref="CorpusFormat.Text"/> chunk (a byte-order mark at the file start is dropped).</summary>
    public static string DecodeText(CorpusChunk chunk)
    {
        var bytes = chunk.Bytes;
        if (chunk.ByteOffset == 0 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            bytes = bytes[3..];
        if (!Utf8.IsValid(bytes))
            ThrowInvalidUtf8(chunk, chunk.Bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Calls <paramref name="onDocument"/> with the <c>"text"</c> of each non-blank line of a JSONL chunk, in order.</summary>
    public static void ForEachJsonlText(CorpusChunk chunk, Action<string> onDocument)
    {
        var rest = chunk.Bytes;
        long line = chunk.FirstLine;
        while (!rest.IsEmpty)
        {
            int newline = rest.IndexOf((byte)'\n');
            var lineBytes = newline < 0 ? rest : rest[..newline];
            rest = newline < 0 ? [] : rest[(newline + 1)..];
            if (!lineBytes.Trim(" \t\r"u8).IsEmpty)
                onDocument(ParseTextField(lineBytes, chunk.File, line));
            line++;
        }
    }

    /// <summary>The string field <c>"text"</c> of one JSON object line.</summary>
    public static string ParseTextField(ReadOnlySpan<byte> lineBytes, string file, long line)
    {
        string? text = null;
        try
        {
            var reader = new Utf8JsonReader(lineBytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                ThrowLine(file, line, "expected a JSON object with a string field \"text\"");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isText = reader.ValueTextEquals(TextField);
                reader.Read();
                if (isText)
                {
                    if (reader.TokenType != JsonTokenType.String)
                        ThrowLine(file, line, $"field \"text\" is {reader.TokenType}, expected a string");
                    text = reader.ValueIsEscaped && !reader.HasValueSequence
                        ? GetStringReplacingLoneSurrogates(ref reader)
                        : reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
            if (reader.Read())
                ThrowLine(file, line, "unexpected data after the JSON object");
        }
        catch (JsonException e)
        {
            ThrowLine(file, line, $"malformed JSON ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            ThrowLine(file, line, $"malformed JSON ({e.Message})");
        }
        if (text is null)
            ThrowLine(file, line, "missing string field \"text\"");
        return text;
    }

    // Utf8JsonReader.GetString throws on an escaped lone surrogate ("\ud83d"); such text gets U+FFFD instead.
    static string GetStringReplacingLoneSurrogates(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return JsonStringDecoder.DecodeReplacingLoneSurrogates(reader.ValueSpan);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowInvalidUtf8(CorpusChunk chunk, ReadOnlySpan<byte> bytes)
    {
        int index = 0;
        try
        {
            StrictUtf8.GetCharCount(bytes);
        }
        catch (DecoderFallbackException e)
        {
            index = e.Index;
        }
        throw new InvalidDataException($"{chunk.File}: invalid UTF-8 at byte offset {chunk.ByteOffset + index}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    static void ThrowLine(string file, long line, string what) =>
        throw new InvalidDataException($"{file}: line {line}: {what}");
}
