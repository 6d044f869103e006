namespace LmForge.Tokenization.Chat;

/// <summary>
/// A conversation as token ids, with <see cref="AssistantMask"/>[i] true where token i belongs to an assistant
/// reply (its content and its closing <c>&lt;|im_end|&gt;</c>): the tokens supervised fine-tuning learns to predict.
/// </summary>
public sealed class RenderedChat(int[] tokens, bool[] assistantMask)
{
    public int[] Tokens { get; } = tokens;
    public bool[] AssistantMask { get; } = assistantMask;
}
