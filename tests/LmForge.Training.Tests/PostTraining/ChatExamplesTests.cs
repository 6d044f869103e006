using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Training;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

public class ChatExamplesTests
{
    private static readonly BpeTokenizer Tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
        .TrainOnTexts([string.Concat(Enumerable.Repeat("what is two plus two? it is four. and three? six, of course. ", 40))]).ToTokenizer();

    private static string Write(params string[] lines)
    {
        string path = Path.Combine(TestFiles.TemporaryDirectory("chats"), "chats.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private static string Line(params (string Role, string Content)[] messages) =>
        System.Text.Json.JsonSerializer.Serialize(new { messages = messages.Select(m => new { role = m.Role, content = m.Content }) });

    [Fact]
    public void Only_assistant_replies_and_their_end_markers_are_learned()
    {
        // a system message, two turns, and an empty last reply (which still learns to end)
        (string, string)[] conversation = [("system", "be brief"), ("user", "what is two plus two?"), ("assistant", "four"), ("user", "and three?"), ("assistant", "")];
        var (examples, counts) = ChatExamples.Load(Write(Line(conversation)), Tokenizer, 512);
        var example = Assert.Single(examples);

        // expected by hand: render each message, and learn exactly the assistant's content ids and its <|im_end|>
        int start = Tokenizer.GetSpecialTokenId(ChatTemplate.ImStart), sep = Tokenizer.GetSpecialTokenId(ChatTemplate.ImSep), end = Tokenizer.GetSpecialTokenId(ChatTemplate.ImEnd);
        var ids = new List<int>();
        var learned = new List<bool>();
        foreach (var (role, content) in conversation)
        {
            int[] header = [start, .. Tokenizer.EncodeOrdinary(role), sep];
            int[] body = [.. Tokenizer.EncodeOrdinary(content), end];
            ids.AddRange(header);
            learned.AddRange(header.Select(_ => false));
            ids.AddRange(body);
            learned.AddRange(body.Select(_ => role == "assistant"));
        }
        Assert.Equal(ids[..^1], example.Inputs);
        Assert.Equal(Enumerable.Range(1, ids.Count - 1).Select(i => learned[i] ? ids[i] : -1), example.Targets);
        Assert.Equal(Tokenizer.EncodeOrdinary("four").Length + 2, example.Targets.Count(t => t >= 0)); // "four" + end, and the empty reply's end
        Assert.Equal(end, example.Targets[^1]);
        Assert.Equal(example.Targets.Count(t => t >= 0), counts.LearnedTokens);
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "line 1: \"messages\" is empty")]
    [InlineData("""{"messages":[{"role":"wizard","content":"hi"}]}""", "line 1: messages[0]: unknown role 'wizard'")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""", "line 1: messages[1]: two 'user' messages in a row")]
    [InlineData("""{"messages":[{"role":"assistant","content":"a"}]}""", "line 1: messages[0]: the conversation starts with 'assistant'")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"system","content":"b"}]}""", "line 1: messages[1]: a system message after the start")]
    [InlineData("""{"messages":[{"role":"system","content":"a"}]}""", "line 1: only a system message")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}]}""", "line 1: messages[0]: no assistant reply")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},""", "line 1: malformed JSON")]
    public void A_bad_conversation_is_a_one_line_error_naming_file_and_line(string line, string message)
    {
        string path = Write(line);
        var e = Assert.Throws<InvalidDataException>(() => ChatExamples.Load(path, Tokenizer, 512));
        Assert.StartsWith($"{path}: ", e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_line_number_counts_every_line()
    {
        string path = Write(Line(("user", "a"), ("assistant", "b")), "", Line(("user", "a"), ("user", "b")));
        Assert.Contains("line 3:", Assert.Throws<InvalidDataException>(() => ChatExamples.Load(path, Tokenizer, 512)).Message);
    }

    [Fact]
    public void Conversations_longer_than_the_context_are_skipped_and_counted()
    {
        string longReply = string.Join(' ', Enumerable.Repeat("it is four", 200));
        var (examples, counts) = ChatExamples.Load(Write(Line(("user", "hi"), ("assistant", "four")), Line(("user", "hi"), ("assistant", longReply))), Tokenizer, 64);
        Assert.Single(examples);
        Assert.Equal((1, 1), (counts.Kept, counts.TooLong));
        Assert.Contains("skipped 1 longer than the context", counts.ToString());
    }

    [Fact]
    public void A_tokenizer_without_chat_markers_says_how_to_add_them()
    {
        var plain = new BpeTrainer(new BpeTrainerOptions { VocabSize = 280, Threads = 1 }).TrainOnTexts(["plain text only, plain text"]).ToTokenizer();
        var e = Assert.Throws<InvalidDataException>(() => ChatExamples.Load(Write(Line(("user", "a"), ("assistant", "b"))), plain, 64));
        Assert.Contains("has no chat markers", e.Message);
        Assert.Contains("lmforge add-chat-tokens --checkpoint BASE --out NEW", e.Message);
    }

    [Fact]
    public void Packing_keeps_every_conversation_whole_in_one_row_with_its_start()
    {
        var template = new ChatTemplate(Tokenizer);
        var examples = Enumerable.Range(0, 40).Select(i => ChatExamples.Render(template,
            [new("user", $"{i}: " + string.Concat(Enumerable.Repeat("two plus two? ", 1 + (i % 7)))), new("assistant", string.Concat(Enumerable.Repeat("four. ", 1 + (i % 5))))], i + 1)).ToList();
        var rows = PackedChatRows.Pack(examples, 96, 0, seed: 5);
        Assert.Equal(examples.Sum(e => e.Length), rows.Tokens);

        var found = new List<(int[] Inputs, int[] Targets)>();
        for (int r = 0; r < rows.Count; r++)
        {
            var starts = rows.DocumentStarts(r);
            for (int t = 0; t < rows.RowLength;)
            {
                int start = starts[t];
                Assert.Equal(t, start); // each document begins where its start says
                int end = t;
                while (end < rows.RowLength && starts[end] == start) end++;
                if (rows.Targets(r)[start..end].ToArray().Any(x => x >= 0) || rows.Inputs(r)[start] != 0)
                    found.Add((rows.Inputs(r)[start..end].ToArray(), rows.Targets(r)[start..end].ToArray()));
                t = end;
            }
        }
        // every conversation appears exactly once, whole and unchanged; the rest is padding
        Assert.Equal(examples.Count, found.Count);
        foreach (var example in examples) Assert.Single(found, f => f.Inputs.SequenceEqual(example.Inputs) && f.Targets.SequenceEqual(example.Targets));
        Assert.True(rows.Count <= (int)Math.Ceiling(examples.Sum(e => e.Length) / 96.0 * 1.5), $"{rows.Count} rows for {rows.Tokens} tokens: packing wastes too much");

        var again = PackedChatRows.Pack(examples, 96, 0, seed: 5);
        Assert.Equal(rows.Inputs(0).ToArray(), again.Inputs(0).ToArray());
        Assert.NotEqual(rows.Inputs(0).ToArray(), PackedChatRows.Pack(examples, 96, 0, seed: 6).Inputs(0).ToArray());
    }
}
