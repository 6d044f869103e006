using System.Runtime.CompilerServices;

namespace LmForge.Tokenization.Chat;

/// <summary>
/// Renders conversations as <c>&lt;|im_start|&gt;{role}&lt;|im_sep|&gt;{content}&lt;|im_end|&gt;</c> per message,
/// where the three markers are special tokens and role and content are encoded as ordinary text (so a message
/// that contains the text "&lt;|im_end|&gt;" cannot forge a marker).
/// <code>
/// var chat = new ChatTemplate(tokenizer);
/// RenderedChat sft = chat.Render(messages);           // ids + mask of the assistant's tokens
/// int[] prompt = chat.RenderPrompt(messagesSoFar);    // ends with &lt;|im_start|&gt;assistant&lt;|im_sep|&gt;
/// </code>
/// </summary>
public sealed class ChatTemplate
{
    public const string ImStart = "<|im_start|>";
    public const string ImSep = "<|im_sep|>";
    public const string ImEnd = "<|im_end|>";
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";

    /// <summary>The roles a message may have.</summary>
    public static IReadOnlyList<string> Roles { get; } = [System, User, Assistant];

    readonly BpeTokenizer tokenizer;
    readonly int imStart, imSep, imEnd;
    readonly Dictionary<string, int[]> roleTokens = new(StringComparer.Ordinal);

    /// <exception cref="ArgumentException">The tokenizer lacks one of the three chat markers.</exception>
    public ChatTemplate(BpeTokenizer tokenizer)
    {
        this.tokenizer = tokenizer;
        var missing = new[] { ImStart, ImSep, ImEnd }.Where(m => !tokenizer.SpecialTokens.ContainsKey(m)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException(
                $"tokenizer {tokenizer.Name} lacks the chat special token(s) {string.Join(", ", missing)}; " +
                "train it with the chat markers (lmforge tokenizer train --chat, or BpeTrainerOptions.SpecialTokens)", nameof(tokenizer));
        imStart = tokenizer.SpecialTokens[ImStart];
        imSep = tokenizer.SpecialTokens[ImSep];
        imEnd = tokenizer.SpecialTokens[ImEnd];
        foreach (var role in Roles)
            roleTokens[role] = tokenizer.EncodeOrdinary(role);
    }

    /// <summary>
    /// <paramref name="tokenizer"/> with the three chat markers as special tokens, every existing id unchanged: for
    /// o200k_base the ids GPT-4o uses (&lt;|im_start|&gt; 200264, &lt;|im_end|&gt; 200265, &lt;|im_sep|&gt; 200266), for
    /// any other tokenizer the next free ids in the order &lt;|im_start|&gt;, &lt;|im_sep|&gt;, &lt;|im_end|&gt; (as
    /// <c>tokenizer train --chat</c> assigns them). A tokenizer that has them already is returned as it is.
    /// </summary>
    public static BpeTokenizer WithChatMarkers(BpeTokenizer tokenizer)
    {
        if (new[] { ImStart, ImSep, ImEnd }.All(tokenizer.SpecialTokens.ContainsKey)) return tokenizer;
        if (tokenizer.Name == "o200k_base")
            return tokenizer.WithSpecialTokens(new Dictionary<string, int> { [ImStart] = 200264, [ImEnd] = 200265, [ImSep] = 200266 });
        var added = new Dictionary<string, int>();
        int next = tokenizer.VocabularySize;
        foreach (string marker in new[] { ImStart, ImSep, ImEnd })
        {
            if (!tokenizer.SpecialTokens.ContainsKey(marker)) added[marker] = next++;
        }
        return tokenizer.WithSpecialTokens(added);
    }

    /// <summary>The whole conversation with the assistant mask (for supervised fine-tuning).</summary>
    /// <exception cref="ArgumentException">A message has an unknown role (the message index is named).</exception>
    public RenderedChat Render(IReadOnlyList<ChatMessage> messages)
    {
        var tokens = new List<int>();
        var mask = new List<bool>();
        var content = new List<int>();
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            AppendHeader(tokens, message.Role, i);
            while (mask.Count < tokens.Count)
                mask.Add(false);
            content.Clear();
            tokenizer.EncodeOrdinary(message.Content ?? "", content);
            content.Add(imEnd);
            tokens.AddRange(content);
            bool learn = message.Role == Assistant;
            for (int t = 0; t < content.Count; t++)
                mask.Add(learn);
        }
        return new RenderedChat([.. tokens], [.. mask]);
    }

    /// <summary>The conversation so far followed by <c>&lt;|im_start|&gt;assistant&lt;|im_sep|&gt;</c>: what a model continues to answer.</summary>
    public int[] RenderPrompt(IReadOnlyList<ChatMessage> messages)
    {
        var tokens = new List<int>(Render(messages).Tokens);
        AppendHeader(tokens, Assistant, messages.Count);
        return [.. tokens];
    }

    /// <summary>The token that ends a reply: generation stops when the model emits it.</summary>
    public int EndOfMessageToken => imEnd;

    void AppendHeader(List<int> tokens, string role, int index)
    {
        if (role is null || !roleTokens.TryGetValue(role, out var roleIds))
            throw UnknownRole(role, index);
        tokens.Add(imStart);
        tokens.AddRange(roleIds);
        tokens.Add(imSep);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static ArgumentException UnknownRole(string? role, int index) =>
        new($"message {index}: unknown role '{role}', expected one of {string.Join(", ", Roles)}");
}
