namespace LmForge.Tokenization.Chat;

/// <summary>One turn of a conversation: <see cref="Role"/> is "system", "user" or "assistant".</summary>
public readonly record struct ChatMessage(string Role, string Content);
