using System.Globalization;
using System.Text;
using System.Text.Json;
using LmForge.Tokenization;
using static LmForge.Server.GenerationRequestReader;

namespace LmForge.Server;

/// <summary>
/// The bodies of <c>POST /v1/tokenize</c>, <c>POST /v1/detokenize</c> and <c>GET /v1/tokenize/encodings</c>, which back
/// the tokenizer page:
/// <code>
/// POST /v1/tokenize   {"text": "...", "encoding": "model", "special": false}   or   {"messages": [{"role", "content"}, ...]}
///   → {"object": "tokenization", "encoding", "ids": [...], "tokens": [{"id", "text"} or {"id", "text": null, "hex": "e2 80"}, ...],
///      "counts": {"characters", "bytes", "tokens"}} (with "text": the rendered chat, for messages)
/// POST /v1/detokenize {"ids": [...], "encoding": "model"}  → {"object": "detokenization", "encoding", "text", "valid_utf8", "counts"}
/// </code>
/// A token whose bytes are not whole UTF-8 (part of a character cut between tokens) has <c>"text": null</c> and its
/// bytes in <c>hex</c>. <c>special</c> true reads the encoding's special tokens' text (&lt;|endoftext|&gt;) as those
/// tokens, false (the default) as ordinary text. Text and a chat's contents are limited to <see cref="MaxTextBytes"/>
/// (413 beyond). Every bad field is an <see cref="OpenAiException"/> naming it.
/// </summary>
internal static class TokenizerApi
{
    /// <summary>The most UTF-8 bytes of text (or of a chat's contents together) one request tokenizes: 1 MiB.</summary>
    public const int MaxTextBytes = 1 << 20;

    public static void WriteEncodings(Utf8JsonWriter json, ServedTokenizers tokenizers, bool chatPage)
    {
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteString("default", tokenizers.DefaultId);
        json.WriteBoolean("chat_page", chatPage);
        json.WriteNumber("max_text_bytes", MaxTextBytes);
        json.WriteStartArray("data");
        foreach (string id in tokenizers.Ids)
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("label", id == tokenizers.DefaultId && id == ServedTokenizers.ModelId ? $"model: {tokenizers.Label}" : id);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    public static Action<Utf8JsonWriter> Tokenize(JsonElement body, ServedTokenizers tokenizers)
    {
        RequireObject(body);
        var encoding = ReadEncoding(body, tokenizers);
        bool hasText = Has(body, "text", out var textValue);
        bool hasMessages = Has(body, "messages", out _);
        if (hasText && hasMessages) throw OpenAiException.Invalid("messages", "give either text or messages, not both");
        if (!hasText && !hasMessages) throw OpenAiException.Invalid("text", "you must provide a text parameter (or messages, to see a chat rendered through the template)", "missing_required_parameter");

        int[] ids;
        BpeTokenizer tokenizer;
        string? rendered = null;
        string counted;
        if (hasText)
        {
            if (textValue.ValueKind != JsonValueKind.String) throw OpenAiException.Invalid("text", $"text: expected a string, got {Describe(textValue)}");
            string text = textValue.GetString()!;
            CheckSize("text", Encoding.UTF8.GetByteCount(text));
            bool special = Boolean(body, "special") ?? false;
            tokenizer = encoding.Tokenizer;
            ids = special ? tokenizer.Encode(text, SpecialTokenSet.All) : tokenizer.EncodeOrdinary(text);
            counted = text;
        }
        else
        {
            _ = Boolean(body, "special"); // checked, but the template decides what is special
            var messages = ReadMessages(body);
            CheckSize("messages", messages.Sum(m => Encoding.UTF8.GetByteCount(m.Content ?? "")));
            tokenizer = encoding.ChatTokenizer;
            try
            {
                ids = encoding.Chat.Render(messages);
            }
            catch (ArgumentException e)
            {
                throw OpenAiException.Invalid("messages", e.Message);
            }
            counted = rendered = tokenizer.DecodeText(ids);
        }

        return json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "tokenization");
            json.WriteString("encoding", encoding.Id);
            if (rendered is not null)
            {
                json.WriteString("template", encoding.Template);
                json.WriteString("text", rendered);
            }
            json.WriteStartArray("ids");
            foreach (int id in ids) json.WriteNumberValue(id);
            json.WriteEndArray();
            json.WriteStartArray("tokens");
            var special = tokenizer.SpecialTokens.Values.ToHashSet();
            foreach (int id in ids) WriteToken(json, tokenizer, id, special.Contains(id));
            json.WriteEndArray();
            WriteCounts(json, counted, ids.Length);
            json.WriteEndObject();
        };
    }

    public static Action<Utf8JsonWriter> Detokenize(JsonElement body, ServedTokenizers tokenizers)
    {
        RequireObject(body);
        var encoding = ReadEncoding(body, tokenizers);
        if (!Has(body, "ids", out var list)) throw OpenAiException.Invalid("ids", "you must provide an ids parameter (an array of token ids)", "missing_required_parameter");
        if (list.ValueKind != JsonValueKind.Array) throw OpenAiException.Invalid("ids", $"ids: expected an array of token ids, got {Describe(list)}");
        // the chat tokenizer is the served one plus the chat markers, so ids of a rendered chat decode too
        var tokenizer = encoding.ChatTokenizer;
        var ids = new int[list.GetArrayLength()];
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out ids[i]) || !IsToken(tokenizer, ids[i]))
            {
                throw OpenAiException.Invalid("ids", string.Create(CultureInfo.InvariantCulture,
                    $"ids[{i}]: expected a token id of {encoding.Id} (0..{tokenizer.VocabularySize - 1}), got {item.GetRawText()}"));
            }
            i++;
        }
        byte[] bytes = tokenizer.Decode(ids);
        string text = Encoding.UTF8.GetString(bytes);
        bool valid = System.Text.Unicode.Utf8.IsValid(bytes);
        return json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "detokenization");
            json.WriteString("encoding", encoding.Id);
            json.WriteString("text", text);
            json.WriteBoolean("valid_utf8", valid);
            WriteCounts(json, text, ids.Length);
            json.WriteEndObject();
        };
    }

    private static ServedEncoding ReadEncoding(JsonElement body, ServedTokenizers tokenizers)
    {
        if (!Has(body, "encoding", out var value)) return Get(tokenizers, tokenizers.DefaultId);
        if (value.ValueKind != JsonValueKind.String) throw OpenAiException.Invalid("encoding", $"encoding: expected a string, got {Describe(value)}");
        string id = value.GetString()!;
        if (!tokenizers.Ids.Contains(id))
        {
            string missing = KnownEncodings.IsKnown(id) ? $" (its rank file {id}.tiktoken is not on this server)" : "";
            throw OpenAiException.Invalid("encoding", $"unknown encoding '{id}'{missing}; this server has {string.Join(", ", tokenizers.Ids)}", "unknown_encoding");
        }
        return Get(tokenizers, id);
    }

    private static ServedEncoding Get(ServedTokenizers tokenizers, string id)
    {
        try
        {
            return tokenizers.TryGet(id, out var encoding) ? encoding : throw new InvalidOperationException($"encoding {id} vanished");
        }
        catch (Exception e) when (e is IOException or TokenizerFormatException)
        {
            throw new OpenAiException(500, $"the encoding {id} could not be loaded: {e.Message}", "server_error");
        }
    }

    private static void CheckSize(string param, int bytes)
    {
        if (bytes > MaxTextBytes)
        {
            throw new OpenAiException(413, string.Create(CultureInfo.InvariantCulture,
                $"{param} is {bytes} bytes of UTF-8; the tokenizer takes at most {MaxTextBytes} bytes (1 MiB) per request"), OpenAiException.InvalidRequest, param, "request_too_large");
        }
    }

    private static bool IsToken(BpeTokenizer tokenizer, int id)
    {
        if ((uint)id >= (uint)tokenizer.VocabularySize) return false;
        try
        {
            tokenizer.GetTokenBytes(id);
            return true;
        }
        catch (ArgumentException)
        {
            return false; // a gap in the ids (cl100k_base has some below its special tokens)
        }
    }

    private static void WriteToken(Utf8JsonWriter json, BpeTokenizer tokenizer, int id, bool special)
    {
        var bytes = tokenizer.GetTokenBytes(id);
        json.WriteStartObject();
        json.WriteNumber("id", id);
        if (System.Text.Unicode.Utf8.IsValid(bytes))
        {
            json.WriteString("text", Encoding.UTF8.GetString(bytes));
        }
        else
        {
            json.WriteNull("text");
            json.WriteString("hex", Convert.ToHexStringLower(bytes).Chunk(2).Aggregate(new StringBuilder(), (s, pair) => (s.Length > 0 ? s.Append(' ') : s).Append(pair)).ToString());
        }
        if (special) json.WriteBoolean("special", true);
        json.WriteEndObject();
    }

    // Characters are Unicode code points (a 🙂 is one, as in Python's len), bytes are UTF-8.
    private static void WriteCounts(Utf8JsonWriter json, string text, int tokens)
    {
        int characters = 0;
        foreach (var _ in text.EnumerateRunes()) characters++;
        json.WriteStartObject("counts");
        json.WriteNumber("characters", characters);
        json.WriteNumber("bytes", Encoding.UTF8.GetByteCount(text));
        json.WriteNumber("tokens", tokens);
        json.WriteEndObject();
    }
}
