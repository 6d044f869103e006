using System.IO.Compression;
using System.Text;
using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Tests.Training;

public sealed class BpeTrainerTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-bpe-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Merges_MatchNaiveRecountingTrainer_InOrder()
    {
        var documents = TrainingCorpus.Documents(count: 30, wordsPerDocument: 60);
        const int merges = 120;
        var options = new BpeTrainerOptions { VocabSize = 256 + merges + 1 };

        var trained = new BpeTrainer(options).TrainOnTexts(documents);
        var expected = NaiveBpeReference.Train(documents, options.Pattern.Regex, merges);

        Assert.Equal(merges, expected.Count);
        Assert.Equal(expected.Count, trained.Merges.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (left, right, merged) = trained.Merges[i];
            Assert.Equal(Convert.ToHexString(expected[i].Left), Convert.ToHexString(trained.TokenBytes[left]));
            Assert.Equal(Convert.ToHexString(expected[i].Right), Convert.ToHexString(trained.TokenBytes[right]));
            Assert.Equal([.. expected[i].Left, .. expected[i].Right], trained.TokenBytes[merged]);
        }
    }

    [Fact]
    public void Merges_MatchNaiveTrainer_OnOverlappingRuns()
    {
        // Runs like "aaaaa" and "abababa" exercise the neighbour updates when a merge overlaps itself.
        string[] documents = ["aaaaa aaa aaaaaaa abababa ababab aab baa", "aaaa bbbb abba baab aaaaa"];
        var options = new BpeTrainerOptions { VocabSize = 256 + 8 + 1 };
        var trained = new BpeTrainer(options).TrainOnTexts(documents);
        var expected = NaiveBpeReference.Train(documents, options.Pattern.Regex, 8);
        Assert.Equal(
            expected.Select(m => Encoding.UTF8.GetString(m.Left) + "|" + Encoding.UTF8.GetString(m.Right)),
            trained.Merges.Select(m => Encoding.UTF8.GetString(trained.TokenBytes[m.Left]) + "|" + Encoding.UTF8.GetString(trained.TokenBytes[m.Right])));
    }

    [Fact]
    public void VocabularySize_IsExact_AndSpecialTokensFollowMergedTokens()
    {
        var options = new BpeTrainerOptions
        {
            VocabSize = 400,
            SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens],
        };
        var trained = new BpeTrainer(options).TrainOnTexts(TrainingCorpus.Documents(40, 80));

        Assert.False(trained.RanOutOfPairs);
        Assert.Equal(400, trained.VocabSize);
        Assert.Equal(396, trained.TokenBytes.Count);
        Assert.Equal(396, trained.SpecialTokens[BpeTrainerOptions.EndOfText]);
        Assert.Equal(397, trained.SpecialTokens[BpeTrainerOptions.ImStart]);
        Assert.Equal(398, trained.SpecialTokens[BpeTrainerOptions.ImSep]);
        Assert.Equal(399, trained.SpecialTokens[BpeTrainerOptions.ImEnd]);
        Assert.Equal(trained.TokenBytes.Count, trained.TokenBytes.Select(Convert.ToHexString).Distinct().Count());
    }

    [Fact]
    public void TrainedTokenizer_RoundTripsTheTrainingText_AndCompressesIt()
    {
        var documents = TrainingCorpus.Documents(count: 30, wordsPerDocument: 60);
        var tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 1000 }).TrainOnTexts(documents).ToTokenizer();
        long bytes = 0, tokens = 0;
        foreach (var document in documents)
        {
            var ids = tokenizer.EncodeOrdinary(document);
            Assert.Equal(document, tokenizer.DecodeText(ids));
            bytes += Encoding.UTF8.GetByteCount(document);
            tokens += ids.Length;
        }
        Assert.True(bytes > 4 * tokens, $"{bytes} bytes in {tokens} tokens: a vocabulary trained on this text should average over 4 bytes a token");
    }

    [Fact]
    public void TinyCorpus_RunsOutOfPairs_AndSaysSo()
    {
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 1000 }).TrainOnTexts(["ab ab"]);
        Assert.True(trained.RanOutOfPairs);
        Assert.Equal(256 + 2, trained.TokenBytes.Count); // "ab", then " ab"
    }

    [Fact]
    public void Files_TextJsonlAndGzip_GiveTheSameMergesAsInMemory_ForAnyThreadCount()
    {
        var documents = TrainingCorpus.Documents(count: 20, wordsPerDocument: 50);
        string jsonl = Path.Combine(directory, "docs.jsonl");
        File.WriteAllLines(jsonl, documents.Select(d => System.Text.Json.JsonSerializer.Serialize(new { id = 1, text = d })));
        string gz = Path.Combine(directory, "docs.jsonl.gz");
        using (var output = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
            output.Write(File.ReadAllBytes(jsonl));

        var inMemory = new BpeTrainer(new BpeTrainerOptions { VocabSize = 350 }).TrainOnTexts(documents);
        foreach (var (file, threads) in new[] { (jsonl, 1), (jsonl, 2), (gz, 2) })
        {
            var options = new BpeTrainerOptions { VocabSize = 350, Threads = threads, ChunkBytes = 512 };
            var fromFile = new BpeTrainer(options).Train(file);
            Assert.Equal(inMemory.Merges, fromFile.Merges);
        }
    }

    [Fact]
    public void TextFileReadInSmallChunks_GivesTheSameMergesAsTheWholeText()
    {
        // Blank lines, indented lines and lines starting with punctuation: chunk cuts must not change the pieces.
        var text = string.Join("\n", TrainingCorpus.Documents(count: 30, wordsPerDocument: 40)
            .Select((d, i) => (i % 3) switch { 0 => "\n\n  " + d, 1 => "-- " + d + "\n", _ => d }));
        string file = Path.Combine(directory, "whole.txt");
        File.WriteAllText(file, text);
        var options = new BpeTrainerOptions { VocabSize = 400, ChunkBytes = 64 };
        var whole = new BpeTrainer(options).TrainOnTexts([text]);
        Assert.Equal(whole.Merges, new BpeTrainer(options).Train(file).Merges);
    }

    [Fact]
    public void Progress_ReportsCountingThenMerges()
    {
        string file = Path.Combine(directory, "a.txt");
        File.WriteAllText(file, string.Join("\n", TrainingCorpus.Documents(10, 50)));
        var reports = new List<BpeTrainingProgress>();
        var options = new BpeTrainerOptions { VocabSize = 400, Progress = new SynchronousProgress(reports.Add), ChunkBytes = 256 };
        new BpeTrainer(options).Train(file);

        Assert.Contains(reports, r => r.Phase == BpeTrainingPhase.CountingWords && r.BytesRead > 0);
        var done = reports[^1];
        Assert.Equal(BpeTrainingPhase.Done, done.Phase);
        Assert.Equal(400 - 257, done.MergesDone);
        Assert.Equal(new FileInfo(file).Length, done.BytesRead);
        Assert.True(done.WordsCounted >= 500, $"counted {done.WordsCounted} pieces");
    }

    [Fact]
    public void VocabSmallerThanBytesPlusSpecials_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 200 }));
        Assert.Contains("at least 256 byte tokens + 1 special tokens = 257", e.Message);
    }

    [Fact]
    public void DuplicateSpecialToken_Throws() =>
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { SpecialTokens = ["<|x|>", "<|x|>"] }));

    [Fact]
    public void EmptyCorpus_Throws()
    {
        string file = Path.Combine(directory, "empty.txt");
        File.WriteAllText(file, "");
        var e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(file));
        Assert.Contains("no text to train on", e.Message);
        Assert.Throws<ArgumentException>(() => new BpeTrainer().TrainOnTexts([]));
    }

    [Fact]
    public void DirectoryWithoutCorpusFiles_Throws_AndMissingPathSaysSo()
    {
        string empty = Path.Combine(directory, "empty-dir");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "notes.csv"), "a,b");
        var e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(empty));
        Assert.Equal($"{empty}: no .txt, .jsonl or .ndjson (optionally .gz) files in this directory", e.Message);
        string missing = Path.Combine(directory, "missing.jsonl");
        Assert.Equal($"{missing}: no such file or directory", Assert.Throws<FileNotFoundException>(() => new BpeTrainer().Train(missing)).Message);
    }

    [Fact]
    public void InvalidUtf8InTextFile_ReportsTheByteOffset()
    {
        string file = Path.Combine(directory, "latin1.txt");
        var bytes = new List<byte>();
        for (int i = 0; i < 100; i++)
            bytes.AddRange("line of text\n"u8.ToArray()); // 13 bytes a line
        bytes.AddRange("caf"u8.ToArray());
        bytes.Add(0xE9); // Latin-1 'é', not UTF-8
        bytes.AddRange("\n"u8.ToArray());
        File.WriteAllBytes(file, [.. bytes]);

        var e = Assert.Throws<InvalidDataException>(() => new BpeTrainer(new BpeTrainerOptions { ChunkBytes = 64 }).Train(file));
        Assert.Equal($"{file}: invalid UTF-8 at byte offset 1303", e.Message);
    }

    [Fact]
    public void MalformedJsonl_ReportsTheLineNumber()
    {
        string file = Path.Combine(directory, "bad.jsonl");
        File.WriteAllText(file, "{\"text\":\"a b\"}\n\n{\"text\":\"c d\"}\n{\"text\": \"unterminated}\n{\"text\":\"e\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(file));
        Assert.StartsWith($"{file}: line 4: malformed JSON", e.Message);

        File.WriteAllText(file, "{\"text\":\"a b\"}\n{\"body\":\"c d\"}\n");
        e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(file));
        Assert.Equal($"{file}: line 2: missing string field \"text\"", e.Message);

        File.WriteAllText(file, "{\"text\":42}\n");
        e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(file));
        Assert.Equal($"{file}: line 1: field \"text\" is Number, expected a string", e.Message);
    }

    [Fact]
    public void TruncatedGzip_Throws_NamingTheFile()
    {
        // Cut just after a sync flush that follows a whole line: the cut file decompresses to complete JSONL
        // lines, so only the missing gzip trailer shows the damage.
        var documents = TrainingCorpus.Documents(count: 50, wordsPerDocument: 100);
        string gz = Path.Combine(directory, "cut.jsonl.gz");
        using (var memory = new MemoryStream())
        {
            int flushedAt;
            using (var output = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
            {
                foreach (var document in documents.Take(30))
                    output.Write(Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new { text = document }) + "\n"));
                output.Flush();
                flushedAt = (int)memory.Length;
                foreach (var document in documents.Skip(30))
                    output.Write(Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new { text = document }) + "\n"));
            }
            File.WriteAllBytes(gz, memory.ToArray()[..flushedAt]);
        }
        var e = Assert.Throws<InvalidDataException>(() => new BpeTrainer().Train(gz));
        Assert.Equal($"{gz}: gzip stream is truncated (ended at compressed byte {new FileInfo(gz).Length})", e.Message);
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, which would race the asserts).</summary>
    internal sealed class SynchronousProgress(Action<BpeTrainingProgress> onReport) : IProgress<BpeTrainingProgress>
    {
        public void Report(BpeTrainingProgress value) => onReport(value);
    }
}
