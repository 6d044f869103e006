using System.Text.Json;
using LmForge.Tokenization.Tests.Training;

namespace LmForge.Tokenization.Tests;

/// <summary>`lmforge tokenize` on the inputs a user gives it.</summary>
public sealed class CliTokenizeTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-cli-tokenize-").FullName;
    readonly string tokenizerPath = FixtureTokenizer.HfFixture("trained.tokenizer.json");

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Tokenize_EmptyCorpus_IsAOneLineError()
    {
        string input = Path.Combine(directory, "empty.txt");
        File.WriteAllText(input, "");
        string output = Path.Combine(directory, "shards");
        var (code, _, stderr) = CliEncodeTests.Lmforge("tokenize", input, "--tokenizer", tokenizerPath, "--output", output);
        Assert.Equal(1, code);
        Assert.Equal($"error: {input}: no text to tokenize (1 document(s), all empty, in 1 file(s))", stderr.TrimEnd('\n'));
        Assert.Empty(Directory.GetFiles(output, "*.bin"));
    }

    [Fact]
    public void Tokenize_CorpusUnderTheValidationSize_WarnsOnStderr()
    {
        string input = Path.Combine(directory, "small.jsonl");
        File.WriteAllLines(input, TrainingCorpus.Documents(count: 5, wordsPerDocument: 20).Select(t => JsonSerializer.Serialize(new { text = t })));
        var (code, stdout, stderr) = CliEncodeTests.Lmforge("tokenize", input, "--tokenizer", tokenizerPath, "--output", Path.Combine(directory, "shards"));
        Assert.Equal(0, code);
        Assert.Contains("in 1 shards", stdout);
        Assert.StartsWith("warning: the corpus has ", stderr);
        Assert.Contains("no training shard was written", stderr);
    }
}
