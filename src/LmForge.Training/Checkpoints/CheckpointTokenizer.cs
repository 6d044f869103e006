using System.Text.Json;
using LmForge.Tokenization;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;

namespace LmForge.Training.Checkpoints;

/// <summary>
/// The tokenizer of a run, as files that travel with every checkpoint: tokenizer.json (Hugging Face, for other tools),
/// and tokenizer.tiktoken (tiktoken ranks) + tokenizer_pattern.json (split pattern and special tokens), which is what
/// LmForge reads back (a tokenizer.json reader is the tokenizer area's; until it exists this pair is the round trip).
/// </summary>
public static class CheckpointTokenizer
{
    public const string HuggingFaceFile = "tokenizer.json";
    public const string RanksFile = "tokenizer.tiktoken";
    public const string PatternFile = "tokenizer_pattern.json";
    public const string EndOfText = BpeTrainerOptions.EndOfText;

    sealed record PatternAndSpecials(string Pattern, Dictionary<string, int> SpecialTokens);

    /// <summary>Writes the three files into <paramref name="directory"/> and returns their paths.</summary>
    public static IReadOnlyList<string> Save(TrainedBpe bpe, string directory)
    {
        Directory.CreateDirectory(directory);
        string huggingFace = Path.Combine(directory, HuggingFaceFile);
        string ranks = Path.Combine(directory, RanksFile);
        string pattern = Path.Combine(directory, PatternFile);
        HuggingFaceTokenizerWriter.Write(bpe, huggingFace);
        TiktokenRankFile.Write(ranks, bpe.TokenBytes.Select((bytes, id) => new KeyValuePair<byte[], int>(bytes, id)));
        File.WriteAllText(pattern, JsonSerializer.Serialize(new PatternAndSpecials(bpe.SplitPattern, bpe.SpecialTokens.ToDictionary()), JsonOptions));
        return [huggingFace, ranks, pattern];
    }

    /// <summary>The tokenizer that <paramref name="bpe"/> describes (the same one <see cref="Load"/> returns from its files).</summary>
    public static BpeTokenizer Create(TrainedBpe bpe) =>
        BpeTokenizer.FromRanks(bpe.TokenBytes.Select((bytes, id) => new KeyValuePair<byte[], int>(bytes, id)),
            SplitPattern.FromRegex(bpe.SplitPattern), bpe.SpecialTokens, "trained");

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, RanksFile)) && File.Exists(Path.Combine(directory, PatternFile));

    public static BpeTokenizer Load(string directory)
    {
        string ranks = Path.Combine(directory, RanksFile), pattern = Path.Combine(directory, PatternFile);
        if (!Exists(directory)) throw new FileNotFoundException($"{directory}: no tokenizer ({RanksFile} and {PatternFile}) in the checkpoint");
        PatternAndSpecials saved;
        try
        {
            saved = JsonSerializer.Deserialize<PatternAndSpecials>(File.ReadAllText(pattern), JsonOptions)
                ?? throw new InvalidDataException($"{pattern}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{pattern}: not a tokenizer pattern file ({e.Message.Split('\n')[0]})");
        }
        return BpeTokenizer.FromRanks(TiktokenRankFile.Read(ranks), SplitPattern.FromRegex(saved.Pattern), saved.SpecialTokens, Path.GetFileName(directory));
    }

    static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };
}
