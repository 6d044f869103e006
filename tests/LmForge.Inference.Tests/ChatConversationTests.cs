using LmForge.Tokenization.Training;

namespace LmForge.Inference.Tests;

public sealed class ChatConversationTests
{
    private static readonly Lazy<LmForge.Tokenization.BpeTokenizer> s_chatTokenizer = new(() =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 320, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
            .TrainOnTexts([string.Concat(Enumerable.Repeat("Hello there, how are you today? I am fine, thank you. ", 40))]).ToTokenizer());

    [Fact]
    public void Renders_with_the_chat_template_and_stops_at_im_end()
    {
        var tokenizer = s_chatTokenizer.Value;
        var chat = new ChatConversation(tokenizer) { SystemMessage = "Be brief." };
        Assert.True(chat.IsChatModel);
        chat.AddUser("Hello there");
        int[] prompt = chat.Prompt(capacity: 1000, replyTokens: 10, out int dropped);
        Assert.Equal(0, dropped);
        Assert.Equal("<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user<|im_sep|>Hello there<|im_end|><|im_start|>assistant<|im_sep|>",
            tokenizer.DecodeText(prompt));
        Assert.Equal([tokenizer.SpecialTokens["<|im_end|>"]], chat.StopTokens);
    }

    [Fact]
    public void Oldest_turns_are_dropped_to_fit_the_context_and_the_system_message_stays()
    {
        var tokenizer = s_chatTokenizer.Value;
        var chat = new ChatConversation(tokenizer) { SystemMessage = "Be brief." };
        for (int i = 0; i < 6; i++)
        {
            chat.AddUser($"How are you today, {i}?");
            chat.AddAssistant("I am fine, thank you.");
        }
        chat.AddUser("Hello there");
        int full = chat.Prompt(10_000, 0, out _).Length;
        int[] prompt = chat.Prompt(full - 10, 0, out int dropped);
        Assert.Equal(2, dropped); // one user turn and its reply
        Assert.StartsWith("<|im_start|>system<|im_sep|>Be brief.", tokenizer.DecodeText(prompt));
        Assert.EndsWith("Hello there<|im_end|><|im_start|>assistant<|im_sep|>", tokenizer.DecodeText(prompt));
        var error = Assert.Throws<ArgumentException>(() => chat.Prompt(12, 4, out _));
        Assert.Contains("exceeds the context of 12 tokens", error.Message);
    }

    [Fact]
    public void A_base_model_continues_plain_text()
    {
        var chat = new ChatConversation(TestModels.Tokenizer);
        Assert.False(chat.IsChatModel);
        chat.AddUser("The quick brown fox");
        Assert.Equal("The quick brown fox", TestModels.Tokenizer.DecodeText(chat.Prompt(100, 10, out _)));
    }
}
