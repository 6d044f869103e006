using LmForge.Training.Data;

namespace LmForge.Training.Tests;

public class TokenBatchLoaderTests
{
    const int B = 2, T = 4, Vocabulary = 1 << 16;

    // Shard s holds the tokens s*1000 + 0, 1, 2, ... so every token says where it came from.
    static List<string> WriteCountingShards(string directory, params int[] lengths) =>
        lengths.Select((n, s) => TestFiles.WriteShard(Path.Combine(directory, $"train_{s:D2}.bin"), Enumerable.Range(s * 1000, n).ToList(), wide: s % 2 == 1)).ToList();

    [Fact]
    public void Batches_AreWindowsOfTPlus1_WithTargetsShiftedByOne_EverySampleOncePerEpoch()
    {
        string dir = TestFiles.TemporaryDirectory("loader");
        // 33 tokens: samples at 0,4,...,28 (8 samples, 4 batches); 21 tokens: 5 samples, 2 batches (1 left over).
        var paths = WriteCountingShards(dir, 33, 21);
        using var loader = new TokenBatchLoader(paths, B, T, Vocabulary, seed: 20230828, shuffle: true);
        Assert.Equal(6, loader.BatchesPerEpoch);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var starts = new List<int>();
        for (int i = 0; i < 6; i++)
        {
            loader.Next(inputs, targets);
            for (int b = 0; b < B; b++)
            {
                int first = inputs[b * T];
                Assert.Equal(0, first % 1000 % T);
                for (int t = 0; t < T; t++)
                {
                    Assert.Equal(first + t, inputs[b * T + t]);
                    Assert.Equal(first + t + 1, targets[b * T + t]);
                }
                starts.Add(first);
            }
        }
        Assert.Equal(12, starts.Distinct().Count());
        Assert.Equal(8, starts.Count(s => s < 1000));
        Assert.Equal(new DataPosition(1, 0, 0), loader.Position);
        Assert.NotEqual(starts.Order(), starts); // shuffled
    }

    [Fact]
    public void SameSeed_SameStream_AndSeekContinuesExactly()
    {
        string dir = TestFiles.TemporaryDirectory("loader-seek");
        var paths = WriteCountingShards(dir, 41, 29, 57);
        using var straight = new TokenBatchLoader(paths, B, T, Vocabulary, seed: 7, shuffle: true);
        var stream = new List<int[]>();
        DataPosition middle = default;
        for (int i = 0; i < 40; i++) // several epochs
        {
            if (i == 17) middle = straight.Position;
            var inputs = new int[B * T];
            straight.Next(inputs, new int[B * T]);
            stream.Add(inputs);
        }
        using var resumed = new TokenBatchLoader(paths, B, T, Vocabulary, seed: 7, shuffle: true);
        resumed.Seek(middle);
        for (int i = 17; i < 40; i++)
        {
            var inputs = new int[B * T];
            resumed.Next(inputs, new int[B * T]);
            Assert.Equal(stream[i], inputs);
        }
        using var otherSeed = new TokenBatchLoader(paths, B, T, Vocabulary, seed: 8, shuffle: true);
        var first = Enumerable.Range(0, 10).Select(_ => { var x = new int[B * T]; otherSeed.Next(x, new int[B * T]); return x; }).ToList();
        Assert.NotEqual(stream.Take(10).SelectMany(x => x), first.SelectMany(x => x));
    }

    [Fact]
    public void Unshuffled_ServesFileOrder()
    {
        string dir = TestFiles.TemporaryDirectory("loader-ordered");
        var paths = WriteCountingShards(dir, 17, 9);
        using var loader = new TokenBatchLoader(paths, B, T, Vocabulary, seed: 0, shuffle: false);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var firsts = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            loader.Next(inputs, targets);
            firsts.Add(inputs[0]);
            firsts.Add(inputs[T]);
        }
        Assert.Equal([0, 4, 8, 12, 1000, 1004], firsts);
    }

    [Fact]
    public void TooLittleText_IsAOneLineErrorSayingWhatToDo()
    {
        string dir = TestFiles.TemporaryDirectory("loader-small");
        var paths = WriteCountingShards(dir, 8);
        var error = Assert.Throws<InvalidDataException>(() => new TokenBatchLoader(paths, B, T, Vocabulary, 0, true));
        Assert.Contains("8 tokens, not enough for one batch of 2 x (4+1) tokens", error.Message, StringComparison.Ordinal);
        Assert.Contains("use more text, or a smaller batch size or context length", error.Message, StringComparison.Ordinal);
        // The shard it opened is closed again: an exclusive open (a file lock on Unix) succeeds.
        using var exclusive = new FileStream(paths[0], FileMode.Open, FileAccess.ReadWrite, FileShare.None);
    }

    [Fact]
    public void TokenOutsideTheVocabulary_NamesTheShardTokenAndPosition()
    {
        string dir = TestFiles.TemporaryDirectory("loader-vocabulary");
        var tokens = Enumerable.Range(0, 40).Select(i => i % 10).ToList();
        tokens[13] = 12;
        string path = TestFiles.WriteShard(Path.Combine(dir, "other_tokenizer.bin"), tokens);
        using var loader = new TokenBatchLoader([path], B, T, vocabularySize: 10, seed: 0, shuffle: false);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        loader.Next(inputs, targets); // tokens 0..8 are fine
        var error = Assert.Throws<InvalidDataException>(() => loader.Next(inputs, targets)); // samples at 8 and 12
        Assert.Equal($"{path}: token 12 at position 13 is outside the vocabulary (10); the shard was made with another tokenizer", error.Message);
    }

    [Fact]
    public void CorruptShards_AreOneLineErrorsNamingTheFile()
    {
        string dir = TestFiles.TemporaryDirectory("loader-corrupt");
        string good = TestFiles.WriteShard(Path.Combine(dir, "good.bin"), Enumerable.Range(0, 100).ToList());
        string truncated = TestFiles.WriteShard(Path.Combine(dir, "truncated.bin"), Enumerable.Range(0, 100).ToList());
        using (var stream = File.OpenWrite(truncated)) stream.SetLength(1024 + 150);
        string text = Path.Combine(dir, "text.bin");
        File.WriteAllText(text, new string('x', 2000));
        foreach (string bad in new[] { truncated, text })
        {
            var error = Assert.Throws<InvalidDataException>(() => new TokenBatchLoader([good, bad], B, T, Vocabulary, 0, true));
            Assert.StartsWith(bad + ": ", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }
    }

    [Fact]
    public void ShardSet_ResolvesFilesDirectoriesAndPatterns_AndNamesWhatIsMissing()
    {
        string dir = TestFiles.TemporaryDirectory("shardset");
        var paths = WriteCountingShards(dir, 10, 10, 10);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "");
        Assert.Equal(paths, TokenShardSet.Resolve(dir, "train"));
        Assert.Equal(paths, TokenShardSet.Resolve(Path.Combine(dir, "train_*.bin"), "train"));
        Assert.Equal([paths[1]], TokenShardSet.Resolve(paths[1], "train"));
        string missing = Path.Combine(dir, "val_*.bin");
        Assert.StartsWith($"{missing}: no val token shards found", Assert.Throws<InvalidDataException>(() => TokenShardSet.Resolve(missing, "val")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardSet_TrainDirectory_LeavesOutValidationShards_ValDirectoryTakesOnlyThem()
    {
        string dir = TestFiles.TemporaryDirectory("shardset-split");
        string val = TestFiles.WriteShard(Path.Combine(dir, "docs_val_000000.bin"), Enumerable.Range(0, 10).ToList());
        string train1 = TestFiles.WriteShard(Path.Combine(dir, "docs_train_000001.bin"), Enumerable.Range(0, 10).ToList());
        string train2 = TestFiles.WriteShard(Path.Combine(dir, "docs_train_000002.bin"), Enumerable.Range(0, 10).ToList());
        string llmcVal = TestFiles.WriteShard(Path.Combine(dir, "val_000000.bin"), Enumerable.Range(0, 10).ToList());
        Assert.Equal([train1, train2], TokenShardSet.Resolve(dir, "train"));
        Assert.Equal([val, llmcVal], TokenShardSet.Resolve(dir, "val"));
        Assert.Equal(new[] { llmcVal, val, train1, train2 }.Order(StringComparer.Ordinal), TokenShardSet.Resolve(dir, "evaluation"));
    }

    [Fact]
    public void ShardSet_OfAnUnfinishedTokenizeRun_IsRefused_InOneLine()
    {
        string dir = TestFiles.TemporaryDirectory("shardset-unfinished");
        string train = TestFiles.WriteShard(Path.Combine(dir, "docs_train_000001.bin"), Enumerable.Range(0, 10).ToList());
        string other = TestFiles.WriteShard(Path.Combine(dir, "other_train_000001.bin"), Enumerable.Range(0, 10).ToList());
        string marker = LmForge.Tokenization.Shards.TokenShardFormat.UnfinishedMarker(dir, "docs");
        File.WriteAllText(marker, "");
        foreach (string specification in new[] { dir, train, Path.Combine(dir, "docs_train_*.bin") })
        {
            var error = Assert.Throws<InvalidDataException>(() => TokenShardSet.Resolve(specification, "train"));
            Assert.Equal($"{train}: its shard set is unfinished ({marker} exists: lmforge tokenize was interrupted or failed); run lmforge tokenize again", error.Message);
        }
        Assert.Equal([other], TokenShardSet.Resolve(other, "train"));
        File.Delete(marker);
        Assert.Equal([train], TokenShardSet.Resolve(train, "train"));
    }
}
