using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;

namespace LmForge.Tests.Shared;

/// <summary>
/// A random chat model on disk for the REPL and server tests: a small trained tokenizer with &lt;|endoftext|&gt; and the
/// chat markers, and a Llama whose output head never prefers a special token, so replies run to their length limit
/// (a test that stops a reply always has one to stop).
/// </summary>
static class ChatCheckpoint
{
    public static string Create(string directory, int width = 128, int layers = 4, int context = 2048)
    {
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 320, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
            .TrainOnTexts([string.Concat(Enumerable.Repeat("Hello there, how are you today? I am fine, thank you. ", 50))]);
        var tokenizer = trained.ToTokenizer();
        CheckpointTokenizer.Save(trained, directory);
        using var model = new TransformerModel(TransformerConfig.Llama(tokenizer.VocabularySize, context, layers, 4, 2, width));
        model.InitializeWeights(seed: 3);
        var head = model.Backend.ToHost(model.GetParameter("lm_head.weight"));
        var random = new Random(3);
        for (int i = 0; i < head.Length; i++) head[i] = (float)(random.NextDouble() * 2 - 1);
        foreach (int stop in tokenizer.SpecialTokens.Values) Array.Clear(head, stop * width, width);
        model.Backend.CopyFromHost(model.GetParameter("lm_head.weight"), head);
        ModelCheckpoint.Save(model, directory);
        return directory;
    }
}
