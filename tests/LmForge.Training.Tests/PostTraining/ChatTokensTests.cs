using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

public class ChatTokensTests
{
    [Fact]
    public void A_base_checkpoint_gains_the_chat_markers_and_can_then_be_fine_tuned()
    {
        string directory = TestFiles.TemporaryDirectory("add-chat-tokens");
        string base_ = Path.Combine(directory, "base");
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 280, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText] })
            .TrainOnTexts([string.Concat(Enumerable.Repeat("one plus one is two. two plus two is four. ", 30))]);
        CheckpointTokenizer.Save(trained, base_);
        int vocabulary = trained.ToTokenizer().VocabularySize;
        using (var model = new TransformerModel(TransformerConfig.Gpt2(vocabulary, 32, 1, 2, 16)))
        {
            model.InitializeWeights(1);
            ModelCheckpoint.Save(model, base_);
        }
        string chatFile = Path.Combine(directory, "chats.jsonl");
        File.WriteAllText(chatFile, """{"messages":[{"role":"user","content":"one plus one?"},{"role":"assistant","content":"two."}]}""" + "\n");
        Assert.Contains("lmforge add-chat-tokens", Assert.Throws<InvalidDataException>(() => ChatExamples.Load(chatFile, CheckpointTokenizer.Load(base_), 32)).Message);

        string chat = Path.Combine(directory, "chat");
        var added = ChatTokens.AddTo(base_, chat);
        Assert.Equal([vocabulary, vocabulary + 1, vocabulary + 2], new[] { ChatTemplate.ImStart, ChatTemplate.ImSep, ChatTemplate.ImEnd }.Select(m => added[m]));
        var tokenizer = CheckpointTokenizer.Load(chat);
        Assert.Equal(vocabulary + 3, tokenizer.VocabularySize);
        Assert.Equal(CheckpointTokenizer.Load(base_).EncodeOrdinary("two plus two is four"), tokenizer.EncodeOrdinary("two plus two is four"));
        using (var model = ModelCheckpoint.Load(chat, trainable: false)) Assert.Equal(vocabulary + 3, model.Config.VocabSize);
        Assert.Single(ChatExamples.Load(chatFile, tokenizer, 32).Examples);

        Assert.Contains("has the chat markers already", Assert.Throws<InvalidOperationException>(() => ChatTokens.AddTo(chat, Path.Combine(directory, "again"))).Message);
        Assert.Contains("already exists", Assert.Throws<IOException>(() => ChatTokens.AddTo(base_, chat)).Message);
        Assert.Empty(Directory.GetDirectories(directory, ".incomplete-*"));
    }
}
