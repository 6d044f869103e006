using LmForge.Tokenization;
using LmForge.Tokenization.Chat;

namespace LmForge.Inference;

/// <summary>
/// A multi-turn conversation with a model: the history (an optional system message, then user and assistant turns),
/// rendered with the chat template <c>&lt;|im_start|&gt;role&lt;|im_sep|&gt;content&lt;|im_end|&gt;</c> when the
/// tokenizer has those markers, else as plain text that the model continues (a base model; <see cref="IsChatModel"/>
/// is false). Before each reply the oldest turns are dropped until the prompt and the reply fit the context; the
/// system message is kept.
/// </summary>
public sealed class ChatConversation
{
    private readonly ChatPrompt _prompt;
    private readonly List<ChatMessage> _turns = [];

    public ChatConversation(BpeTokenizer tokenizer) => _prompt = new ChatPrompt(tokenizer);

    /// <summary>True when the tokenizer has the chat markers; false means replies are plain continuations of the text.</summary>
    public bool IsChatModel => _prompt.IsChatModel;

    public string? SystemMessage { get; set; }

    /// <summary>The user and assistant turns kept so far (the system message aside).</summary>
    public IReadOnlyList<ChatMessage> Turns => _turns;

    /// <summary>The token a reply ends with: &lt;|im_end|&gt; for a chat model, &lt;|endoftext|&gt; for a base model (when it has one).</summary>
    public IReadOnlyList<int> StopTokens => _prompt.StopTokens;

    public void Clear() => _turns.Clear();

    public void AddUser(string content) => _turns.Add(new ChatMessage(ChatTemplate.User, content));

    public void AddAssistant(string content) => _turns.Add(new ChatMessage(ChatTemplate.Assistant, content));

    /// <summary>
    /// The prompt for the next reply, leaving <paramref name="replyTokens"/> positions free within <paramref name="capacity"/>.
    /// Drops the oldest turns (a user turn with its reply) while the prompt is too long and returns how many it dropped;
    /// throws when even the last user turn alone does not fit.
    /// </summary>
    public int[] Prompt(int capacity, int replyTokens, out int droppedTurns)
    {
        droppedTurns = 0;
        while (true)
        {
            int[] tokens = Render();
            if (tokens.Length + replyTokens <= capacity) return tokens;
            if (_turns.Count <= 1)
                throw new ArgumentException($"the message takes {tokens.Length} tokens; with {replyTokens} for the reply that exceeds the context of {capacity} tokens (shorten it or lower the reply length)");
            int drop = _turns.Count >= 2 && _turns[1].Role == ChatTemplate.Assistant ? 2 : 1;
            _turns.RemoveRange(0, drop);
            droppedTurns += drop;
        }
    }

    private int[] Render()
    {
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(SystemMessage)) messages.Add(new ChatMessage(ChatTemplate.System, SystemMessage));
        messages.AddRange(_turns);
        return _prompt.Render(messages);
    }
}
