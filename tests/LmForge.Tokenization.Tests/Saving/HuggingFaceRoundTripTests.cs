using System.Text.Json;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Tests.Training;

namespace LmForge.Tokenization.Tests.Saving;

/// <summary>
/// The trainer's tokenizer.json is read by Hugging Face tokenizers (Rust, via npm "tokenizers"): the ids it gives
/// for Fixtures/hf/samples.json (hf_encodings.json, made by make_hf_encodings.js) must equal LmForge's.
/// </summary>
public sealed class HuggingFaceRoundTripTests
{
    sealed record HfEncoding(string Text, int[] Ids, string Decoded);

    static readonly JsonSerializerOptions Camel = new() { PropertyNameCaseInsensitive = true };

    static List<HfEncoding> HfEncodings() =>
        JsonSerializer.Deserialize<List<HfEncoding>>(File.ReadAllText(FixtureTokenizer.HfFixture("hf_encodings.json")), Camel)!;

    [Fact]
    public void SavedFile_EqualsTheCommittedFixture_ThatHuggingFaceEncoded()
    {
        // The fixture must be what today's trainer writes, or the Hugging Face ids below would test an old file.
        // To regenerate after a deliberate change: LMFORGE_REGENERATE_FIXTURES=1 dotnet test ..., then run make_hf_encodings.js.
        using var saved = new MemoryStream();
        HuggingFaceTokenizerWriter.Write(FixtureTokenizer.Bpe, saved);
        if (Environment.GetEnvironmentVariable("LMFORGE_REGENERATE_FIXTURES") == "1")
            File.WriteAllBytes(FixtureTokenizer.SourceFixture("trained.tokenizer.json"), saved.ToArray());
        Assert.Equal(File.ReadAllBytes(FixtureTokenizer.HfFixture("trained.tokenizer.json")), saved.ToArray());
    }

    [Fact]
    public void TrainedTokenizer_EncodesLikeHuggingFaceReadingTheSavedFile()
    {
        var tokenizer = FixtureTokenizer.Bpe.ToTokenizer();
        foreach (var sample in HfEncodings())
        {
            Assert.Equal(sample.Ids, tokenizer.Encode(sample.Text, SpecialTokenSet.All));
            Assert.Equal(sample.Text, tokenizer.DecodeText(sample.Ids));
            Assert.Equal(sample.Text, sample.Decoded);
        }
    }

    [Fact]
    public void SavedFile_LoadedBack_EncodesToTheSameIds()
    {
        var trained = FixtureTokenizer.Bpe.ToTokenizer();
        var loaded = HuggingFaceTokenizerFile.Load(FixtureTokenizer.HfFixture("trained.tokenizer.json"));
        Assert.Equal(trained.VocabularySize, loaded.VocabularySize);
        Assert.Equal(trained.SpecialTokens.OrderBy(s => s.Value), loaded.SpecialTokens.OrderBy(s => s.Value));
        Assert.Equal(trained.Pattern.Regex, loaded.Pattern.Regex);
        foreach (var sample in HfEncodings())
            Assert.Equal(sample.Ids, loaded.Encode(sample.Text, SpecialTokenSet.All));
        foreach (var document in TrainingCorpus.Documents(count: 10, wordsPerDocument: 200))
            Assert.Equal(trained.EncodeOrdinary(document), loaded.EncodeOrdinary(document));
    }

    [Fact]
    public void Write_IsAtomic_AndReplacesAnOldFile()
    {
        string directory = Directory.CreateTempSubdirectory("lmforge-hf-").FullName;
        try
        {
            string path = Path.Combine(directory, "tokenizer.json");
            File.WriteAllText(path, "old");
            HuggingFaceTokenizerWriter.Write(FixtureTokenizer.Bpe, path);
            Assert.Equal(File.ReadAllBytes(FixtureTokenizer.HfFixture("trained.tokenizer.json")), File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
