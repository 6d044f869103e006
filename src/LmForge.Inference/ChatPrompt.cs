using LmForge.Tokenization;
using LmForge.Tokenization.Chat;

namespace LmForge.Inference;

/// <summary>
/// How a model is prompted with a conversation: with the chat template
/// <c>&lt;|im_start|&gt;role&lt;|im_sep|&gt;content&lt;|im_end|&gt;</c> when the tokenizer has those markers (the
/// prompt ends with <c>&lt;|im_start|&gt;assistant&lt;|im_sep|&gt;</c>), else as the messages' text joined by newlines,
/// which a base model continues (<see cref="IsChatModel"/> is false). Shared by the REPL and the server.
/// </summary>
public sealed class ChatPrompt
{
    private readonly BpeTokenizer _tokenizer;
    private readonly ChatTemplate? _template;

    public ChatPrompt(BpeTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        bool hasMarkers = new[] { ChatTemplate.ImStart, ChatTemplate.ImSep, ChatTemplate.ImEnd }.All(tokenizer.SpecialTokens.ContainsKey);
        _template = hasMarkers ? new ChatTemplate(tokenizer) : null;
    }

    /// <summary>True when the tokenizer has the chat markers; false means replies are plain continuations of the text.</summary>
    public bool IsChatModel => _template is not null;

    /// <summary>The token a reply ends with: &lt;|im_end|&gt; for a chat model, &lt;|endoftext|&gt; for a base model (when it has one).</summary>
    public IReadOnlyList<int> StopTokens =>
        _template is not null ? [_template.EndOfMessageToken]
        : _tokenizer.SpecialTokens.TryGetValue("<|endoftext|>", out int endOfText) ? [endOfText] : [];

    /// <summary>The prompt a reply to <paramref name="messages"/> continues.</summary>
    /// <exception cref="ArgumentException">A message has an unknown role (the message index is named).</exception>
    public int[] Render(IReadOnlyList<ChatMessage> messages)
    {
        if (_template is not null) return _template.RenderPrompt(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            if (!ChatTemplate.Roles.Contains(messages[i].Role))
                throw new ArgumentException($"message {i}: unknown role '{messages[i].Role}', expected one of {string.Join(", ", ChatTemplate.Roles)}");
        }
        return _tokenizer.EncodeOrdinary(string.Join("\n", messages.Select(m => m.Content)));
    }
}
