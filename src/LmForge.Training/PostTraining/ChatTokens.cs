using LmForge.Models.Checkpoints;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Saving;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.PostTraining;

/// <summary>
/// Gives a base checkpoint the chat markers it lacks, so it can be fine-tuned on conversations: the tokenizer gains
/// &lt;|im_start|&gt;, &lt;|im_sep|&gt;, &lt;|im_end|&gt; with every existing id unchanged
/// (<see cref="ChatTemplate.WithChatMarkers"/>), and the model gains their embedding (and head) rows
/// (<see cref="LmForge.Models.Transformer.TransformerModel.WithVocabulary"/>). The new checkpoint (config.json,
/// model.safetensors, tokenizer.json) is written into a temporary directory and renamed into place when complete.
/// </summary>
public static class ChatTokens
{
    /// <returns>The ids given to the markers.</returns>
    /// <exception cref="InvalidOperationException">The tokenizer has the markers already.</exception>
    /// <exception cref="IOException">The output exists (it is never overwritten).</exception>
    public static IReadOnlyDictionary<string, int> AddTo(string checkpointDirectory, string outputDirectory)
    {
        string tokenizerPath = Path.Combine(checkpointDirectory, CheckpointTokenizer.FileName);
        var tokenizer = CheckpointTokenizer.Load(checkpointDirectory);
        var chat = ChatTemplate.WithChatMarkers(tokenizer);
        if (ReferenceEquals(chat, tokenizer))
            throw new InvalidOperationException($"{tokenizerPath}: the tokenizer has the chat markers already; fine-tune it as it is (lmforge sft)");
        if (Directory.Exists(outputDirectory) || File.Exists(outputDirectory))
            throw new IOException($"{outputDirectory}: already exists; choose a new --out");
        var added = new[] { ChatTemplate.ImStart, ChatTemplate.ImSep, ChatTemplate.ImEnd }.ToDictionary(m => m, chat.GetSpecialTokenId);
        using var model = ModelCheckpoint.Load(checkpointDirectory, CpuBackend.Shared, trainable: false);
        using var grown = model.WithVocabulary(Math.Max(model.Config.VocabSize, chat.VocabularySize));

        string full = Path.GetFullPath(outputDirectory);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".incomplete-{Path.GetFileName(full)}-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(temporary);
            ModelCheckpoint.Save(grown, temporary);
            HuggingFaceTokenizerWriter.WriteWithAddedTokens(tokenizerPath, Path.Combine(temporary, CheckpointTokenizer.FileName), added);
            Directory.Move(temporary, full);
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
        return added;
    }
}
