using System.Runtime.CompilerServices;
using System.Text.Json;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Chat;

/// <summary>
/// Reads and writes chat transcripts, one JSON object per line: <c>{"messages":[{"role":"user","content":"..."}, ...]}</c>
/// (the OpenAI / Hugging Face convention; other fields are ignored; optionally gzip). Errors name the file and line.
/// </summary>
public static class ChatJsonl
{
    public static IEnumerable<IReadOnlyList<ChatMessage>> Read(string path) => ReadNumbered(path).Select(c => c.Messages);

    /// <summary>As <see cref="Read"/>, with each conversation's line number (1-based), for errors about its content.</summary>
    public static IEnumerable<(long Line, IReadOnlyList<ChatMessage> Messages)> ReadNumbered(string path)
    {
        foreach (var chunk in CorpusReader.ReadChunks([path]))
        {
            var rest = chunk.Bytes.ToArray().AsMemory();
            long line = chunk.FirstLine;
            while (!rest.IsEmpty)
            {
                int newline = rest.Span.IndexOf((byte)'\n');
                var lineBytes = newline < 0 ? rest : rest[..newline];
                rest = newline < 0 ? Memory<byte>.Empty : rest[(newline + 1)..];
                if (!lineBytes.Span.Trim(" \t\r"u8).IsEmpty)
                    yield return (line, ParseLine(lineBytes.Span, path, line));
                line++;
            }
        }
    }

    /// <summary>Parses one line; roles are checked against <see cref="ChatTemplate.Roles"/>.</summary>
    public static IReadOnlyList<ChatMessage> ParseLine(ReadOnlySpan<byte> line, string file, long lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.ToArray());
        }
        catch (JsonException e)
        {
            throw Error(file, lineNumber, $"malformed JSON at {UntrustedText.JsonError(e)}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
                throw Error(file, lineNumber, "expected an object with an array field \"messages\"");
            var result = new List<ChatMessage>();
            int index = 0;
            foreach (var message in messages.EnumerateArray())
            {
                if (message.ValueKind != JsonValueKind.Object
                    || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                    || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    throw Error(file, lineNumber, $"messages[{index}]: expected {{\"role\": string, \"content\": string}}");
                string roleText = Text(role, file, lineNumber, $"messages[{index}].role");
                if (!ChatTemplate.Roles.Contains(roleText))
                    throw Error(file, lineNumber, $"messages[{index}]: unknown role '{UntrustedText.Excerpt(roleText)}', expected one of {string.Join(", ", ChatTemplate.Roles)}");
                result.Add(new ChatMessage(roleText, Text(content, file, lineNumber, $"messages[{index}].content")));
                index++;
            }
            if (result.Count == 0)
                throw Error(file, lineNumber, "\"messages\" is empty");
            return result;
        }
    }

    /// <summary>
    /// Writes one conversation per line, under a temporary name renamed into place when complete (<see cref="Saving.AtomicFile"/>).
    /// Returns the number written.
    /// </summary>
    public static int Write(string path, IEnumerable<IReadOnlyList<ChatMessage>> conversations)
    {
        ArgumentNullException.ThrowIfNull(conversations);
        return Saving.AtomicFile.WriteJsonLines(path, conversations, (json, messages) =>
        {
            json.WriteStartArray("messages");
            foreach (var message in messages)
            {
                json.WriteStartObject();
                json.WriteString("role", message.Role);
                json.WriteString("content", message.Content);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        });
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static InvalidDataException Error(string file, long line, string what) => new($"{file}: line {line}: {what}");

    // A JSON string's text; invalid UTF-8 or an escaped lone surrogate is an error about the line, not a crash.
    static string Text(JsonElement value, string file, long line, string field)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Error(file, line, $"{field} is not valid text (invalid UTF-8 or a lone surrogate escape)");
        }
    }
}
