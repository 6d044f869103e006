using System.Globalization;
using System.Text.Json;
using LmForge.Inference;
using LmForge.Tokenization.Chat;

namespace LmForge.Server;

/// <summary>A checked request to generate: the prompt's tokens, how to sample and stop, and how to answer.</summary>
internal sealed record GenerationRequest(int[] Prompt, SamplingOptions Options, bool Stream, bool IncludeUsage);

/// <summary>
/// Reads the JSON bodies of <c>/v1/chat/completions</c> and <c>/v1/completions</c> into <see cref="GenerationRequest"/>s,
/// checking every field the server uses for type and range; a bad field is an <see cref="OpenAiException"/> (400) that
/// names it (<c>param</c>). Optional fields may be null. Fields the server does not use are ignored, except features
/// it cannot provide (n &gt; 1, logprobs, tools, penalties other than repetition_penalty), which are refused rather than
/// silently dropped. Besides OpenAI's fields it takes top_k, min_p and repetition_penalty, as vLLM does.
/// </summary>
internal static class GenerationRequestReader
{
    /// <summary>OpenAI's own limit on the length of <c>messages</c>.</summary>
    public const int MaxMessages = 2048;

    /// <summary>OpenAI's limit on stop sequences.</summary>
    public const int MaxStopStrings = 4;

    /// <summary>A completion's reply length when the request gives none (OpenAI's default for /v1/completions).</summary>
    public const int CompletionDefaultMaxTokens = 16;

    public static GenerationRequest ReadChat(JsonElement body, ServedModel model)
    {
        RequireObject(body);
        CheckModel(body, model);
        var messages = ReadMessages(body);
        int[] prompt;
        try
        {
            prompt = model.ChatPrompt.Render(messages);
        }
        catch (ArgumentException e)
        {
            throw OpenAiException.Invalid("messages", e.Message);
        }
        return Finish(body, prompt, "messages", model, model.ChatPrompt.StopTokens, defaultMaxTokens: null);
    }

    public static GenerationRequest ReadCompletion(JsonElement body, ServedModel model)
    {
        RequireObject(body);
        CheckModel(body, model);
        Refuse(body, "echo", v => v.ValueKind == JsonValueKind.True, "echo is not supported by this server");
        Refuse(body, "suffix", v => v.ValueKind != JsonValueKind.Null, "suffix (insertion) is not supported by this server");
        Refuse(body, "best_of", v => !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int b) && b == 1), "best_of must be 1: this server returns one completion per request");
        Refuse(body, "logprobs", v => v.ValueKind != JsonValueKind.Null, "logprobs are not supported by this server");
        int[] prompt = ReadPrompt(body, model);
        return Finish(body, prompt, "prompt", model, model.EndOfText is { } end ? [end] : [], CompletionDefaultMaxTokens);
    }

    // The sampling and stopping fields both endpoints share, and the check that prompt and reply fit the context.
    private static GenerationRequest Finish(JsonElement body, int[] prompt, string promptParam, ServedModel model, IReadOnlyList<int> stopTokens, int? defaultMaxTokens)
    {
        Refuse(body, "n", v => !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n == 1), "n must be 1: this server returns one choice per request");
        Refuse(body, "logprobs", v => v.ValueKind == JsonValueKind.True, "logprobs are not supported by this server");
        Refuse(body, "top_logprobs", v => v.ValueKind != JsonValueKind.Null, "top_logprobs are not supported by this server");
        Refuse(body, "tools", v => v.ValueKind != JsonValueKind.Null && !(v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0), "tools are not supported by this server");
        Refuse(body, "logit_bias", v => v.ValueKind != JsonValueKind.Null && !(v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any()), "logit_bias is not supported by this server");
        foreach (string penalty in new[] { "frequency_penalty", "presence_penalty" })
        {
            if (Number(body, penalty, -2, 2) is { } p && p != 0)
                throw OpenAiException.Invalid(penalty, $"{penalty} is not supported by this server; use repetition_penalty (above 1 discourages repeats)");
        }

        float temperature = Number(body, "temperature", 0, 2) ?? 1f;
        float topP = Number(body, "top_p", 0, 1) ?? 1f;
        if (topP == 0) (temperature, topP) = (0, 1); // only the most likely token: greedy
        int topK = Integer(body, "top_k", 0) ?? 0;
        float minP = Number(body, "min_p", 0, 1) ?? 0f;
        float repetitionPenalty = Number(body, "repetition_penalty", 0, float.MaxValue) ?? 1f;
        if (repetitionPenalty <= 0) throw OpenAiException.Invalid("repetition_penalty", "repetition_penalty must be above 0 (1 is off)");
        ulong? seed = Has(body, "seed", out var seedValue)
            ? seedValue.ValueKind == JsonValueKind.Number && seedValue.TryGetInt64(out long s) ? unchecked((ulong)s)
              : throw OpenAiException.Invalid("seed", $"seed: expected an integer, got {Describe(seedValue)}")
            : null;
        string[] stop = ReadStop(body);

        string maxParam = Has(body, "max_completion_tokens", out _) ? "max_completion_tokens" : "max_tokens";
        int? maxTokens = Integer(body, maxParam, 1);
        int capacity = model.Capacity;
        if (maxTokens is { } requested)
        {
            if (prompt.Length + requested > capacity)
            {
                throw OpenAiException.Invalid(promptParam, string.Create(CultureInfo.InvariantCulture,
                    $"This model's maximum context length is {capacity} tokens. However, you requested {prompt.Length + requested} tokens ({prompt.Length} in the {promptParam}, {requested} in the completion). Please reduce the length of the {promptParam} or completion."),
                    "context_length_exceeded");
            }
        }
        else if (prompt.Length >= capacity)
        {
            throw OpenAiException.Invalid(promptParam, string.Create(CultureInfo.InvariantCulture,
                $"This model's maximum context length is {capacity} tokens. However, your {promptParam} resulted in {prompt.Length} tokens, which leaves no room for a reply. Please reduce the length of the {promptParam}."),
                "context_length_exceeded");
        }
        int maxReply = Math.Min(maxTokens ?? defaultMaxTokens ?? int.MaxValue, capacity - prompt.Length);

        bool stream = Boolean(body, "stream") ?? false;
        bool includeUsage = false;
        if (Has(body, "stream_options", out var streamOptions))
        {
            if (!stream) throw OpenAiException.Invalid("stream_options", "stream_options is only allowed when stream is true");
            if (streamOptions.ValueKind != JsonValueKind.Object)
                throw OpenAiException.Invalid("stream_options", $"stream_options: expected an object, got {Describe(streamOptions)}");
            includeUsage = Boolean(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
        }

        var options = new SamplingOptions(temperature, topK, topP, maxReply, seed)
        {
            MinP = minP,
            RepetitionPenalty = repetitionPenalty,
            StopTokens = stopTokens,
            StopStrings = stop,
        };
        return new GenerationRequest(prompt, options, stream, includeUsage);
    }

    private static void CheckModel(JsonElement body, ServedModel model)
    {
        if (!Has(body, "model", out var value)) throw OpenAiException.Invalid("model", "you must provide a model parameter", "missing_required_parameter");
        if (value.ValueKind != JsonValueKind.String) throw OpenAiException.Invalid("model", $"model: expected a string, got {Describe(value)}");
        string name = value.GetString()!;
        if (name != model.Name) throw OpenAiException.UnknownModel(name, model.Name);
    }

    internal static List<ChatMessage> ReadMessages(JsonElement body)
    {
        if (!Has(body, "messages", out var list)) throw OpenAiException.Invalid("messages", "you must provide a messages parameter", "missing_required_parameter");
        if (list.ValueKind != JsonValueKind.Array) throw OpenAiException.Invalid("messages", $"messages: expected an array of messages, got {Describe(list)}");
        int count = list.GetArrayLength();
        if (count == 0) throw OpenAiException.Invalid("messages", "messages is empty; expected at least one message");
        if (count > MaxMessages) throw OpenAiException.Invalid("messages", string.Create(CultureInfo.InvariantCulture, $"messages has {count} messages; at most {MaxMessages} are allowed"));
        var messages = new List<ChatMessage>(count);
        int i = 0;
        foreach (var message in list.EnumerateArray())
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"messages[{i}]");
            if (message.ValueKind != JsonValueKind.Object) throw OpenAiException.Invalid(at, $"{at}: expected a message object, got {Describe(message)}");
            if (!Has(message, "role", out var roleValue)) throw OpenAiException.Invalid($"{at}.role", $"{at}: missing role");
            if (roleValue.ValueKind != JsonValueKind.String) throw OpenAiException.Invalid($"{at}.role", $"{at}.role: expected a string, got {Describe(roleValue)}");
            string role = roleValue.GetString()! switch
            {
                "developer" => ChatTemplate.System, // OpenAI's newer name for the system message
                var r when ChatTemplate.Roles.Contains(r) => r,
                var r => throw OpenAiException.Invalid($"{at}.role", $"{at}.role: unknown role '{r}'; expected system, developer, user or assistant"),
            };
            messages.Add(new ChatMessage(role, ReadContent(message, at)));
            i++;
        }
        return messages;
    }

    // A message's content: a string, or an array of {"type": "text", "text": ...} parts joined.
    private static string ReadContent(JsonElement message, string at)
    {
        if (!Has(message, "content", out var content)) throw OpenAiException.Invalid($"{at}.content", $"{at}: missing content");
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array)
            throw OpenAiException.Invalid($"{at}.content", $"{at}.content: expected a string or an array of text parts, got {Describe(content)}");
        var text = new System.Text.StringBuilder();
        int j = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partAt = string.Create(CultureInfo.InvariantCulture, $"{at}.content[{j++}]");
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw OpenAiException.Invalid(partAt, $"{partAt}: expected a content part object with a type");
            if (type.GetString() != "text")
                throw OpenAiException.Invalid(partAt, $"{partAt}: content of type '{type.GetString()}' is not supported; this model reads text only");
            if (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                throw OpenAiException.Invalid($"{partAt}.text", $"{partAt}.text: expected a string");
            text.Append(partText.GetString());
        }
        return text.ToString();
    }

    // A completion's prompt: a string, or token ids, or a list holding exactly one of either.
    private static int[] ReadPrompt(JsonElement body, ServedModel model)
    {
        if (!Has(body, "prompt", out var prompt)) throw OpenAiException.Invalid("prompt", "you must provide a prompt parameter", "missing_required_parameter");
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind is JsonValueKind.String or JsonValueKind.Array)
            prompt = prompt[0];
        if (prompt.ValueKind == JsonValueKind.String)
        {
            string text = prompt.GetString()!;
            if (text.Length > 0) return model.Tokenizer.EncodeOrdinary(text);
            // an empty prompt starts a fresh document, as training saw them
            return model.EndOfText is { } end ? [end] : throw OpenAiException.Invalid("prompt", "prompt is empty and this model has no <|endoftext|> token to start from");
        }
        if (prompt.ValueKind != JsonValueKind.Array)
            throw OpenAiException.Invalid("prompt", $"prompt: expected a string or an array of token ids, got {Describe(prompt)}");
        int count = prompt.GetArrayLength();
        if (count == 0) throw OpenAiException.Invalid("prompt", "prompt is empty; expected text or at least one token id");
        var tokens = new int[count];
        int vocabulary = model.Model.Config.VocabSize;
        for (int i = 0; i < count; i++)
        {
            var item = prompt[i];
            if (item.ValueKind is JsonValueKind.String or JsonValueKind.Array)
                throw OpenAiException.Invalid("prompt", "prompt holds several prompts; this server takes one prompt per request");
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out tokens[i]) || tokens[i] < 0 || tokens[i] >= vocabulary)
                throw OpenAiException.Invalid("prompt", string.Create(CultureInfo.InvariantCulture, $"prompt[{i}]: expected a token id in [0, {vocabulary}), got {item.GetRawText()}"));
        }
        return tokens;
    }

    private static string[] ReadStop(JsonElement body)
    {
        if (!Has(body, "stop", out var stop)) return [];
        string[] strings = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String) => [.. stop.EnumerateArray().Select(s => s.GetString()!)],
            _ => throw OpenAiException.Invalid("stop", $"stop: expected a string or an array of strings, got {Describe(stop)}"),
        };
        if (strings.Length > MaxStopStrings) throw OpenAiException.Invalid("stop", string.Create(CultureInfo.InvariantCulture, $"stop has {strings.Length} sequences; at most {MaxStopStrings} are allowed"));
        if (strings.Any(s => s.Length == 0)) throw OpenAiException.Invalid("stop", "stop: a stop sequence is empty");
        return strings;
    }

    internal static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) throw OpenAiException.Invalid(null, $"the request body must be a JSON object, got {Describe(body)}");
    }

    private static void Refuse(JsonElement body, string name, Func<JsonElement, bool> unsupported, string message)
    {
        if (Has(body, name, out var value) && unsupported(value)) throw OpenAiException.Invalid(name, message);
    }

    // Present and not null.
    internal static bool Has(JsonElement body, string name, out JsonElement value) =>
        body.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static float? Number(JsonElement body, string name, float min, float max)
    {
        if (!Has(body, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number))
            throw OpenAiException.Invalid(name, $"{name}: expected a number, got {Describe(value)}");
        if (!(number >= min && number <= max))
        {
            string range = max == float.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            throw OpenAiException.Invalid(name, string.Create(CultureInfo.InvariantCulture, $"{name} is {value.GetRawText()}; expected a number {range}"));
        }
        return (float)number;
    }

    private static int? Integer(JsonElement body, string name, int min)
    {
        if (!Has(body, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long number))
            throw OpenAiException.Invalid(name, $"{name}: expected an integer, got {Describe(value)}");
        if (number < min) throw OpenAiException.Invalid(name, string.Create(CultureInfo.InvariantCulture, $"{name} is {number}; expected an integer of at least {min}"));
        return (int)Math.Min(number, int.MaxValue);
    }

    internal static bool? Boolean(JsonElement body, string name, string? param = null)
    {
        if (!Has(body, name, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpenAiException.Invalid(param ?? name, $"{param ?? name}: expected true or false, got {Describe(value)}"),
        };
    }

    internal static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
