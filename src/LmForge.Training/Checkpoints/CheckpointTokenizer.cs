using LmForge.Tokenization;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;

namespace LmForge.Training.Checkpoints;

/// <summary>
/// The tokenizer of a run travels with every checkpoint as a Hugging Face tokenizer.json (written by the tokenizer
/// trainer, read back by the tokenizer area's loader), so other tools can use it too.
/// </summary>
public static class CheckpointTokenizer
{
    public const string FileName = "tokenizer.json";
    public const string EndOfText = BpeTrainerOptions.EndOfText;

    /// <summary>Writes tokenizer.json into <paramref name="directory"/> and returns its path.</summary>
    public static string Save(TrainedBpe bpe, string directory)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        HuggingFaceTokenizerWriter.Write(bpe, path);
        return path;
    }

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, FileName));

    public static BpeTokenizer Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; a checkpoint carries its tokenizer as {FileName} (copy the tokenizer.json the model was trained with into {Path.GetDirectoryName(Path.GetFullPath(path))})");
        return HuggingFaceTokenizerFile.Load(path, Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))));
    }
}
