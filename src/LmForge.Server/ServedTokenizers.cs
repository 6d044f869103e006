using LmForge.Inference;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;

namespace LmForge.Server;

/// <summary>One encoding the tokenizer page and <c>/v1/tokenize</c> offer.</summary>
/// <param name="Id">What a request names as <c>encoding</c>: "model" for the served tokenizer, else gpt2, cl100k_base, o200k_base.</param>
/// <param name="Tokenizer">Encodes text (its own special tokens only).</param>
/// <param name="Chat">Renders messages: the chat template when <see cref="ChatTokenizer"/> has the markers, else the text for a base model.</param>
/// <param name="ChatTokenizer">The tokenizer a rendered chat's ids belong to: <see cref="Tokenizer"/>, or for OpenAI's encodings the same with the chat markers added.</param>
/// <param name="Template">How messages are rendered, in words.</param>
public sealed record ServedEncoding(string Id, BpeTokenizer Tokenizer, ChatPrompt Chat, BpeTokenizer ChatTokenizer, string Template);

/// <summary>
/// The encodings a server tokenizes with: its own tokenizer (the model's, or the one <c>lmforge tokenizer serve</c> was
/// given) and those of gpt2, cl100k_base and o200k_base whose rank files are in the rank directory, each loaded on first use.
/// </summary>
public sealed class ServedTokenizers
{
    /// <summary>The id of the served tokenizer when it is not one of OpenAI's encodings.</summary>
    public const string ModelId = "model";

    private readonly Dictionary<string, Lazy<ServedEncoding>> _encodings = new(StringComparer.Ordinal);

    /// <param name="tokenizer">The served tokenizer.</param>
    /// <param name="label">How the page names it (a model name or file name); default: the tokenizer's name.</param>
    /// <param name="rankDirectory">Where gpt2/cl100k_base/o200k_base.tiktoken are looked for; null: <see cref="KnownEncodings.DefaultDirectory"/>.</param>
    /// <param name="id">Its id; default: its name when that is gpt2, cl100k_base or o200k_base, else "model".</param>
    public ServedTokenizers(BpeTokenizer tokenizer, string? label = null, string? rankDirectory = null, string? id = null)
    {
        DefaultId = id ?? (KnownEncodings.IsKnown(tokenizer.Name) ? tokenizer.Name : ModelId);
        Label = label ?? tokenizer.Name;
        var prompt = new ChatPrompt(tokenizer);
        var own = new ServedEncoding(DefaultId, tokenizer, prompt, tokenizer,
            prompt.IsChatModel ? "the chat template <|im_start|>role<|im_sep|>content<|im_end|>" : "no chat markers: the messages' text joined by newlines, as a base model is prompted");
        _encodings[DefaultId] = new Lazy<ServedEncoding>(own);
        string directory = rankDirectory ?? KnownEncodings.DefaultDirectory();
        foreach (string name in KnownEncodings.Available(directory))
        {
            if (_encodings.ContainsKey(name)) continue;
            _encodings[name] = new Lazy<ServedEncoding>(() => Known(name, KnownEncodings.Load(name, directory)), LazyThreadSafetyMode.ExecutionAndPublication);
        }
    }

    /// <summary>The served tokenizer's id, the encoding a request without one gets.</summary>
    public string DefaultId { get; }

    /// <summary>How the served tokenizer is named on the page.</summary>
    public string Label { get; }

    /// <summary>Every encoding on offer, the served one first.</summary>
    public IReadOnlyList<string> Ids => [.. _encodings.Keys];

    public bool TryGet(string id, out ServedEncoding encoding)
    {
        if (_encodings.TryGetValue(id, out var lazy))
        {
            encoding = lazy.Value;
            return true;
        }
        encoding = null!;
        return false;
    }

    // OpenAI's encodings have no chat markers of their own: chats are rendered with them added (GPT-4o's ids for
    // o200k_base, the next free ids otherwise), so the page shows the template's shape in any encoding.
    private static ServedEncoding Known(string name, BpeTokenizer tokenizer)
    {
        var withMarkers = ChatTemplate.WithChatMarkers(tokenizer);
        string ids = string.Join(", ", new[] { ChatTemplate.ImStart, ChatTemplate.ImSep, ChatTemplate.ImEnd }.Select(m => $"{m} {withMarkers.SpecialTokens[m]}"));
        return new ServedEncoding(name, tokenizer, new ChatPrompt(withMarkers), withMarkers, $"the chat template with its markers added ({ids})");
    }
}
