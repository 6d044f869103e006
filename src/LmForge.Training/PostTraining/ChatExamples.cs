using System.Globalization;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;

namespace LmForge.Training.PostTraining;

/// <summary>
/// One conversation ready for supervised fine-tuning: the rendered ids as next-token inputs and targets, a target
/// being −1 (no loss) everywhere but the assistant's replies: each reply's content and its closing &lt;|im_end|&gt;.
/// </summary>
public sealed record ChatExample(int[] Inputs, int[] Targets, long Line)
{
    public int Length => Inputs.Length;
}

/// <summary>What reading a conversations file found: conversations kept, skipped as longer than the context, and tokens.</summary>
public sealed record ChatExampleCounts(int Kept, int TooLong, long Tokens, long LearnedTokens)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Kept:N0} conversations ({Tokens:N0} tokens, {LearnedTokens:N0} of them in assistant replies){(TooLong > 0 ? $"; skipped {TooLong:N0} longer than the context" : "")}");
}

/// <summary>
/// Reads chat JSONL (<c>{"messages": [{"role", "content"}, ...]}</c>, see <see cref="ChatJsonl"/>) into
/// <see cref="ChatExample"/>s with the chat template. A conversation is an optional system message, then user and
/// assistant messages taking turns from a user message, with at least one assistant reply; anything else is a one-line
/// error naming the file and line. A conversation longer than the context is skipped and counted.
/// </summary>
public static class ChatExamples
{
    public static (List<ChatExample> Examples, ChatExampleCounts Counts) Load(string path, BpeTokenizer tokenizer, int contextLength)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such conversations file");
        var template = Template(tokenizer);
        var examples = new List<ChatExample>();
        int tooLong = 0;
        long tokens = 0, learned = 0;
        foreach (var (line, messages) in ChatJsonl.ReadNumbered(path))
        {
            CheckTurns(messages, path, line);
            var example = Render(template, messages, line);
            if (example.Length > contextLength)
            {
                tooLong++;
                continue;
            }
            examples.Add(example);
            tokens += example.Length + 1;
            foreach (int target in example.Targets) learned += target >= 0 ? 1 : 0;
        }
        if (examples.Count == 0)
            throw new InvalidDataException(tooLong > 0
                ? $"{path}: all {tooLong} conversations are longer than the context of {contextLength} tokens"
                : $"{path}: no conversations");
        return (examples, new ChatExampleCounts(examples.Count, tooLong, tokens, learned));
    }

    /// <summary>The template, or a one-line error saying how to add the chat markers the tokenizer lacks.</summary>
    public static ChatTemplate Template(BpeTokenizer tokenizer)
    {
        if (new[] { ChatTemplate.ImStart, ChatTemplate.ImSep, ChatTemplate.ImEnd }.All(tokenizer.SpecialTokens.ContainsKey)) return new ChatTemplate(tokenizer);
        throw new InvalidDataException(
            $"tokenizer {tokenizer.Name} has no chat markers ({ChatTemplate.ImStart}, {ChatTemplate.ImSep}, {ChatTemplate.ImEnd}): " +
            "add them to the base checkpoint with lmforge add-chat-tokens --checkpoint BASE --out NEW, or pretrain on a tokenizer trained with them (lmforge tokenizer train --chat)");
    }

    /// <summary>Inputs are the rendered ids but the last; target i is id i+1 where that id belongs to an assistant reply.</summary>
    public static ChatExample Render(ChatTemplate template, IReadOnlyList<ChatMessage> messages, long line = 0)
    {
        var rendered = template.Render(messages);
        int n = rendered.Tokens.Length - 1;
        var inputs = rendered.Tokens.AsSpan(0, n).ToArray();
        var targets = new int[n];
        for (int i = 0; i < n; i++) targets[i] = rendered.AssistantMask[i + 1] ? rendered.Tokens[i + 1] : -1;
        return new ChatExample(inputs, targets, line);
    }

    private static void CheckTurns(IReadOnlyList<ChatMessage> messages, string path, long line)
    {
        string Where(int index) => string.Create(CultureInfo.InvariantCulture, $"{path}: line {line}: messages[{index}]");
        int first = messages[0].Role == ChatTemplate.System ? 1 : 0;
        if (first == messages.Count) throw new InvalidDataException($"{path}: line {line}: only a system message; a conversation needs a user message and an assistant reply");
        for (int i = first; i < messages.Count; i++)
        {
            string expected = (i - first) % 2 == 0 ? ChatTemplate.User : ChatTemplate.Assistant;
            if (messages[i].Role == expected) continue;
            throw new InvalidDataException(messages[i].Role == ChatTemplate.System
                ? $"{Where(i)}: a system message after the start; only the first message may be one"
                : i > first && messages[i].Role == messages[i - 1].Role
                    ? $"{Where(i)}: two '{messages[i].Role}' messages in a row; after an optional system message, user and assistant take turns"
                    : $"{Where(i)}: the conversation starts with '{messages[i].Role}'; it must start with a user message (after an optional system message)");
        }
        if (messages.Count - first < 2) throw new InvalidDataException($"{Where(first)}: no assistant reply to learn from");
    }
}

/// <summary>
/// Conversations packed into rows of <see cref="RowLength"/> tokens for fine-tuning: conversations are taken in a
/// seeded order and appended to the current row while they fit; the rest of a row is padding (targets −1). Each
/// token carries the row index where its conversation starts (<see cref="DocumentStarts"/>), so the model restarts
/// positions there and attends only within the conversation: packing never lets one conversation see another.
/// </summary>
public sealed class PackedChatRows
{
    private readonly int[] _inputs, _targets, _starts;

    private PackedChatRows(int rowLength, int paddingToken, int[] inputs, int[] targets, int[] starts)
    {
        RowLength = rowLength;
        PaddingToken = paddingToken;
        _inputs = inputs;
        _targets = targets;
        _starts = starts;
    }

    public int RowLength { get; }

    /// <summary>The input id of padding positions (their targets are −1).</summary>
    public int PaddingToken { get; }

    public int Count => _inputs.Length / RowLength;

    /// <summary>Tokens that are not padding, over all rows.</summary>
    public long Tokens { get; private init; }

    public ReadOnlySpan<int> Inputs(int row) => _inputs.AsSpan(row * RowLength, RowLength);

    public ReadOnlySpan<int> Targets(int row) => _targets.AsSpan(row * RowLength, RowLength);

    public ReadOnlySpan<int> DocumentStarts(int row) => _starts.AsSpan(row * RowLength, RowLength);

    /// <summary>Packs <paramref name="examples"/> (each at most <paramref name="rowLength"/> long) in an order drawn from <paramref name="seed"/>.</summary>
    public static PackedChatRows Pack(IReadOnlyList<ChatExample> examples, int rowLength, int paddingToken, ulong seed)
    {
        var order = Enumerable.Range(0, examples.Count).ToArray();
        CounterRandom.Derive(seed, 0x5F7).Shuffle(order);
        var inputs = new List<int>();
        var targets = new List<int>();
        var starts = new List<int>();
        long tokens = 0;
        int used = 0; // tokens in the current row
        void Pad()
        {
            int start = used;
            for (; used < rowLength; used++)
            {
                inputs.Add(paddingToken);
                targets.Add(-1);
                starts.Add(start);
            }
            used = 0;
        }
        foreach (int index in order)
        {
            var example = examples[index];
            if (example.Length > rowLength)
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"conversation of line {example.Line} takes {example.Length} tokens; rows hold {rowLength}"), nameof(examples));
            if (used + example.Length > rowLength) Pad();
            int start = used;
            inputs.AddRange(example.Inputs);
            targets.AddRange(example.Targets);
            for (int i = 0; i < example.Length; i++) starts.Add(start);
            used += example.Length;
            tokens += example.Length;
            if (used == rowLength) used = 0;
        }
        if (used > 0) Pad();
        return new PackedChatRows(rowLength, paddingToken, [.. inputs], [.. targets], [.. starts]) { Tokens = tokens };
    }
}
