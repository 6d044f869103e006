using System.IO.Compression;
using System.Text.Json;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Tests.Training;
using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Tests.Shards;

public sealed class CorpusTokenizerTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-tokenize-").FullName;
    readonly BpeTokenizer tokenizer = FixtureTokenizer.Bpe.ToTokenizer();
    readonly List<string> documents = TrainingCorpus.Documents(count: 40, wordsPerDocument: 80);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    string WriteJsonl(string name, IEnumerable<string> texts)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllLines(path, texts.Select(t => JsonSerializer.Serialize(new { text = t })));
        return path;
    }

    int[] Expected()
    {
        int eot = tokenizer.GetSpecialTokenId(BpeTrainerOptions.EndOfText);
        return [.. documents.SelectMany(d => (int[])[eot, .. tokenizer.EncodeOrdinary(d)])];
    }

    [Fact]
    public void Shards_HoldEveryDocumentAfterEndOfText_CutAtExactSizes_ValidationFirst()
    {
        string input = WriteJsonl("docs.jsonl", documents);
        string output = Path.Combine(directory, "out");
        var result = CorpusTokenizer.Run(tokenizer, input, output,
            new TokenizeOptions { ShardTokens = 3000, ValidationTokens = 1000, Prefix = "docs", ChunkBytes = 4096 });

        var expected = Expected();
        Assert.Equal(expected.Length, result.Tokens);
        Assert.Equal(documents.Count, result.Documents);
        var names = result.Shards.Select(Path.GetFileName).ToList();
        Assert.Equal("docs_val_000000.bin", names[0]);
        Assert.Equal("docs_train_000001.bin", names[1]);
        Assert.Equal(1 + (expected.Length - 1000 + 2999) / 3000, names.Count);
        var shards = result.Shards.Select(TokenShardReader.ReadAll).ToList();
        Assert.Equal(1000, shards[0].Length);
        Assert.All(shards.Skip(1).SkipLast(1), s => Assert.Equal(3000, s.Length));
        Assert.Equal(expected, shards.SelectMany(s => s));
        Assert.Equal(Directory.GetFiles(output).Order(), result.Shards.Order());
    }

    [Fact]
    public void Rerun_RemovesTheEarlierRunsShards_AndSaysSo()
    {
        string input = WriteJsonl("docs.jsonl", documents);
        string output = Path.Combine(directory, "out");
        var first = CorpusTokenizer.Run(tokenizer, input, output, new TokenizeOptions { ShardTokens = 1000, Prefix = "docs" });
        File.WriteAllBytes(Path.Combine(output, "docs_train_000099.bin.partial"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(output, "docs_train_notes.bin"), [1]);
        File.WriteAllBytes(Path.Combine(output, "other_train_000001.bin"), [1]);
        var log = new List<string>();
        var second = CorpusTokenizer.Run(tokenizer, input, output,
            new TokenizeOptions { ShardTokens = 5000, Prefix = "docs", Log = log.Add });

        Assert.True(first.Shards.Count > second.Shards.Count);
        var expected = second.Shards.Select(Path.GetFileName).Append("docs_train_notes.bin").Append("other_train_000001.bin");
        Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal([$"removed {first.Shards.Count + 1} shard file(s) of an earlier run from {output} (docs_val_*.bin, docs_train_*.bin)"],
            log.Where(line => !line.StartsWith("warning: ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Output_IsByteIdentical_ForAnyThreadCount()
    {
        string input = WriteJsonl("docs.jsonl", documents);
        string[] Run(int threads)
        {
            string output = Path.Combine(directory, $"out{threads}");
            var result = CorpusTokenizer.Run(tokenizer, input, output,
                new TokenizeOptions { ShardTokens = 2500, Threads = threads, ChunkBytes = 1024 });
            return [.. result.Shards.Select(s => Convert.ToHexString(File.ReadAllBytes(s)))];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    [Fact]
    public void DirectoryOfTextAndGzipJsonl_IsReadInPathOrder_OneDocumentPerTextFile()
    {
        string input = Path.Combine(directory, "in");
        Directory.CreateDirectory(input);
        File.WriteAllText(Path.Combine(input, "a.txt"), documents[0]);
        using (var gz = new GZipStream(File.Create(Path.Combine(input, "b.jsonl.gz")), CompressionLevel.Fastest))
            gz.Write(File.ReadAllBytes(WriteJsonl("b.jsonl", documents[1..3])));
        File.WriteAllText(Path.Combine(input, "c.txt"), documents[3]);
        File.WriteAllText(Path.Combine(input, "ignored.csv"), "not,a,corpus");

        var result = CorpusTokenizer.Run(tokenizer, input, Path.Combine(directory, "out"), new TokenizeOptions { ValidationTokens = 0 });

        int eot = tokenizer.GetSpecialTokenId(BpeTrainerOptions.EndOfText);
        int[] expected = [.. documents[..4].SelectMany(d => (int[])[eot, .. tokenizer.EncodeOrdinary(d)])];
        Assert.Equal("corpus_train_000001.bin", Path.GetFileName(Assert.Single(result.Shards)));
        Assert.Equal(expected, TokenShardReader.ReadAll(result.Shards[0]));
        Assert.Equal(4, result.Documents);
    }

    [Fact]
    public void LargeTextFile_ReadInChunks_EncodesLikeTheWholeText()
    {
        var text = string.Join("\n\n ", documents);
        string input = Path.Combine(directory, "big.txt");
        File.WriteAllText(input, text);
        var result = CorpusTokenizer.Run(tokenizer, input, Path.Combine(directory, "out"),
            new TokenizeOptions { ChunkBytes = 100, ValidationTokens = 0, Threads = 2 });
        int[] expected = [tokenizer.GetSpecialTokenId(BpeTrainerOptions.EndOfText), .. tokenizer.EncodeOrdinary(text)];
        Assert.Equal(expected, TokenShardReader.ReadAll(Assert.Single(result.Shards)));
        Assert.Equal(1, result.Documents);
    }

    [Fact]
    public void BadLine_ReportsItsNumber_AndLeavesOnlyCompleteShards()
    {
        var lines = documents.Select(d => JsonSerializer.Serialize(new { text = d })).ToList();
        lines[30] = "{\"text\": oops}";
        string input = Path.Combine(directory, "bad.jsonl");
        File.WriteAllLines(input, lines);
        string output = Path.Combine(directory, "out");

        var e = Assert.Throws<InvalidDataException>(() => CorpusTokenizer.Run(tokenizer, input, output,
            new TokenizeOptions { ShardTokens = 1000, ChunkBytes = 512, Threads = 2 }));
        Assert.StartsWith($"{input}: line 31: malformed JSON", e.Message);
        Assert.Empty(Directory.GetFiles(output, "*.partial"));
        var shards = Directory.GetFiles(output, "*.bin");
        Assert.NotEmpty(shards);
        foreach (var shard in shards)
        {
            Assert.Equal(1000, TokenShardReader.Open(shard).TokenCount);
            // Whole shards, but not a whole set: its marker says so until a run completes.
            Assert.Equal(TokenShardFormat.UnfinishedMarker(output, "corpus"), TokenShardFormat.FindUnfinishedMarker(shard));
        }

        lines[30] = "{\"text\": \"fixed\"}";
        File.WriteAllLines(input, lines);
        var result = CorpusTokenizer.Run(tokenizer, input, output, new TokenizeOptions { ShardTokens = 1000 });
        Assert.All(result.Shards, shard => Assert.Null(TokenShardFormat.FindUnfinishedMarker(shard)));
        Assert.Equal(result.Shards.Order(), Directory.GetFiles(output).Order());
    }

    [Fact]
    public void Interrupted_Run_LeavesTheMarker_WrittenBeforeTheFirstShard()
    {
        // A kill cannot run a finally: what it leaves is what exists while the shards are being written.
        string input = WriteJsonl("docs.jsonl", documents);
        string output = Path.Combine(directory, "out");
        var seen = new List<bool>();
        CorpusTokenizer.Run(tokenizer, input, output, new TokenizeOptions
        {
            ShardTokens = 1000, ChunkBytes = 512, Threads = 1, Prefix = "docs",
            Progress = new CallbackProgress(p => seen.Add(File.Exists(TokenShardFormat.UnfinishedMarker(output, "docs")))),
        });
        Assert.NotEmpty(seen);
        Assert.All(seen.SkipLast(1), Assert.True);
        Assert.False(seen[^1]);
    }

    sealed class CallbackProgress(Action<TokenizeProgress> report) : IProgress<TokenizeProgress>
    {
        public void Report(TokenizeProgress value) => report(value);
    }

    [Theory]
    [InlineData("empty.txt", "")]
    [InlineData("empty.jsonl", "")]
    [InlineData("blank.jsonl", "{\"text\": \"\"}\n{\"text\": \"\"}\n")]
    public void EmptyCorpus_IsAnError_NotAOneTokenShard(string name, string content)
    {
        string input = Path.Combine(directory, name);
        File.WriteAllText(input, content);
        string output = Path.Combine(directory, "out");
        var e = Assert.Throws<InvalidDataException>(() => CorpusTokenizer.Run(tokenizer, input, output));
        Assert.StartsWith($"{input}: no text to tokenize", e.Message);
        Assert.Empty(Directory.GetFiles(output, "*.bin"));
    }

    [Fact]
    public void CorpusSmallerThanTheValidationShard_IsWarned()
    {
        string input = WriteJsonl("docs.jsonl", documents);
        var log = new List<string>();
        var result = CorpusTokenizer.Run(tokenizer, input, Path.Combine(directory, "out"), new TokenizeOptions { Log = log.Add });
        Assert.Single(result.Shards);
        Assert.Equal([$"warning: the corpus has {result.Tokens:N0} tokens, no more than the validation shard's 100,000,000: " +
            "all of them went to validation and no training shard was written; pass a smaller validation size (e.g. a tenth of the tokens)"], log);

        log.Clear();
        CorpusTokenizer.Run(tokenizer, input, Path.Combine(directory, "out"), new TokenizeOptions { ValidationTokens = result.Tokens / 10, Log = log.Add });
        Assert.DoesNotContain(log, line => line.StartsWith("warning:", StringComparison.Ordinal));
    }

    [Fact]
    public void TokenizerWithoutEndOfText_Throws()
    {
        var noEot = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, SpecialTokens = [] }).TrainOnTexts(documents).ToTokenizer("no-eot");
        var e = Assert.Throws<ArgumentException>(() => CorpusTokenizer.Run(noEot, WriteJsonl("d.jsonl", documents), directory));
        Assert.StartsWith("tokenizer no-eot has no special token <|endoftext|> to separate documents", e.Message);
    }

    [Fact]
    public void MissingInput_Throws() =>
        Assert.Throws<FileNotFoundException>(() => CorpusTokenizer.Run(tokenizer, Path.Combine(directory, "nope.jsonl"), directory));
}
