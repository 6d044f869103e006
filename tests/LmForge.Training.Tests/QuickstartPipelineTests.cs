using LmForge.Inference;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization.Shards;
using LmForge.Training.Checkpoints;
using LmForge.Training.Quickstart;

namespace LmForge.Training.Tests;

public class QuickstartPipelineTests
{
    // A small corpus with real words, repeated with variations so BPE finds merges and a model something to learn.
    static string WriteCorpus(string directory, int sentences)
    {
        string[] subjects = ["The jury", "A man", "The city", "Her father", "The committee"];
        string[] verbs = ["said", "reported", "believed", "announced", "denied"];
        string[] objects = ["that the election was fair.", "the plan on Friday.", "nothing at all.", "a new program.", "that it had no evidence."];
        var random = new Random(20230828);
        var lines = Enumerable.Range(0, sentences).Select(_ => $"{subjects[random.Next(5)]} {verbs[random.Next(5)]} {objects[random.Next(5)]}");
        string path = Path.Combine(directory, "corpus.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void SmallCorpus_EndToEnd_TokenizerShardsTrainingBaselinesAndSamples()
    {
        string directory = TestFiles.TemporaryDirectory("quickstart");
        string corpus = WriteCorpus(directory, 3000);
        var files = QuickstartPipeline.CorpusFiles(new QuickstartOptions { Corpus = corpus });
        var bpe = QuickstartPipeline.TrainTokenizer(files, 320);
        string[] tokenizerFiles = [CheckpointTokenizer.Save(bpe, Path.Combine(directory, "tokenizer"))];
        var tokenizer = CheckpointTokenizer.Load(Path.Combine(directory, "tokenizer"));
        int endOfText = tokenizer.GetSpecialTokenId(CheckpointTokenizer.EndOfText);
        Assert.Equal(bpe.ToTokenizer().Encode("The jury said nothing."), tokenizer.Encode("The jury said nothing."));
        var split = QuickstartPipeline.WriteShards(corpus, tokenizer, Path.Combine(directory, "data"));

        // The first ~5% of the tokens are validation, the rest training; together they are the corpus, decodable back to it.
        var validation = TokenShardReader.ReadAll(split.ValidationShard);
        var train = split.TrainShards.SelectMany(TokenShardReader.ReadAll).ToArray();
        Assert.InRange(validation.Length, (train.Length + validation.Length) / 40, (train.Length + validation.Length) / 10);
        Assert.Equal(endOfText, validation[0]);
        Assert.Equal(File.ReadAllText(corpus), tokenizer.DecodeText(validation.Concat(train).ToArray().AsSpan(1)));

        var config = QuickstartPipeline.DefaultConfig(split, tokenizer.VocabularySize).WithOverrides(
            ["layers=2", "heads=2", "embeddingSize=32", "contextLength=32", "microBatchSize=4", "totalBatchTokens=128", "steps=60",
             "warmupSteps=5", "evalEvery=30", "evalBatches=4", "sampleEvery=30", "sampleTokens=8"]);
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        Assert.InRange(QuickstartPipeline.StepsForBudget(model, config, budgetSeconds: 60), 1, 10_000_000);
        string run = Path.Combine(directory, "run");
        var samples = new List<string>();
        TrainingResult result;
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.CheckpointExtraFiles = tokenizerFiles;
            trainer.Sampler = (m, step) => QuickstartPipeline.Sample(m, tokenizer, "", new SamplingOptions(MaxTokens: 8, Seed: (ulong)step));
            trainer.Listener = new SampleCollector(samples);
            result = trainer.Run();
        }
        Assert.Equal(2, samples.Count);
        var baselines = Baselines.Measure(split.TrainShards, [split.ValidationShard], tokenizer.VocabularySize);
        Assert.Equal(Math.Log(320), baselines.Uniform, 6);
        Assert.True(baselines.Unigram < baselines.Uniform);
        Assert.True(result.LastValidationLoss < baselines.Unigram, $"validation loss {result.LastValidationLoss} does not beat the unigram baseline {baselines.Unigram}");

        // The checkpoint carries the tokenizer: loading both gives the same text for a fixed seed.
        var loadedTokenizer = CheckpointTokenizer.Load(result.CheckpointDirectory);
        using var loadedModel = TransformerTrainableModel.Load(result.CheckpointDirectory, CpuBackend.Shared);
        var options = new SamplingOptions(MaxTokens: 12, Seed: 5);
        Assert.Equal(QuickstartPipeline.Sample(model, tokenizer, "The jury", options), QuickstartPipeline.Sample(loadedModel, loadedTokenizer, "The jury", options));
    }

    sealed class SampleCollector(List<string> samples) : ITrainingListener
    {
        public void OnSample(int step, string text) => samples.Add(text);
    }

    [Fact]
    public void Unigram_IsTheCrossEntropyOfAddOneSmoothedTrainingFrequencies()
    {
        string directory = TestFiles.TemporaryDirectory("unigram");
        string train = TestFiles.WriteShard(Path.Combine(directory, "train.bin"), [0, 0, 0, 1]);
        string validation = TestFiles.WriteShard(Path.Combine(directory, "val.bin"), [0, 2]);
        // counts + 1 over 4 + 3: p(0) = 4/7, p(2) = 1/7.
        var baselines = Baselines.Measure([train], [validation], 3);
        Assert.Equal(-(Math.Log(4.0 / 7) + Math.Log(1.0 / 7)) / 2, baselines.Unigram, 12);
        Assert.Equal(Math.Log(3), baselines.Uniform, 12);
    }

    [Fact]
    public void MissingOrEmptyCorpus_IsAOneLineErrorSayingWhatToDo()
    {
        string directory = TestFiles.TemporaryDirectory("corpus-bad");
        string missing = Path.Combine(directory, "nope.txt");
        Assert.Equal($"{missing}: no such corpus file or directory; pass --corpus with a .txt/.jsonl file or a directory of them",
            Assert.Throws<FileNotFoundException>(() => QuickstartPipeline.CorpusFiles(new QuickstartOptions { Corpus = missing })).Message);
        string empty = Path.Combine(directory, "empty");
        Directory.CreateDirectory(empty);
        Assert.StartsWith($"{empty}: no .txt, .jsonl or .ndjson",
            Assert.Throws<InvalidDataException>(() => QuickstartPipeline.CorpusFiles(new QuickstartOptions { Corpus = empty })).Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(empty, "a.txt"), "");
        Assert.StartsWith($"{empty}: the corpus is empty",
            Assert.Throws<InvalidDataException>(() => QuickstartPipeline.CorpusFiles(new QuickstartOptions { Corpus = empty })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorpusTooSmallForTheContext_IsAOneLineErrorAtTrainingStart()
    {
        string directory = TestFiles.TemporaryDirectory("corpus-small");
        string corpus = WriteCorpus(directory, 30);
        var files = QuickstartPipeline.CorpusFiles(new QuickstartOptions { Corpus = corpus });
        var bpe = QuickstartPipeline.TrainTokenizer(files, 300);
        var tokenizer = bpe.ToTokenizer();
        var split = QuickstartPipeline.WriteShards(corpus, tokenizer, Path.Combine(directory, "data"));
        var config = QuickstartPipeline.DefaultConfig(split, tokenizer.VocabularySize);
        using var model = TransformerTrainableModel.Create(config with { Layers = 1, EmbeddingSize = 32, Heads = 1 }, CpuBackend.Shared);
        var error = Assert.Throws<InvalidDataException>(() => Trainer.Start(config with { Layers = 1, EmbeddingSize = 32, Heads = 1 }, model, CpuBackend.Shared, Path.Combine(directory, "run")));
        Assert.Contains("not enough for one batch of 8 x (128+1) tokens", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(Directory.Exists(Path.Combine(directory, "run", "step-000000")));
    }

    [Fact]
    public void RemovePreviousRun_RemovesOnlyTheQuickstartsOwnOutputs()
    {
        string run = Path.Combine(TestFiles.TemporaryDirectory("quickstart-clean"), "run");
        Assert.False(QuickstartPipeline.RemovePreviousRun(run));
        Directory.CreateDirectory(Path.Combine(run, "data"));
        File.WriteAllText(Path.Combine(run, "data", "corpus_train_000002.bin"), "stale");
        Directory.CreateDirectory(Path.Combine(run, "tokenizer"));
        Directory.CreateDirectory(Path.Combine(run, "step-000300"));
        File.WriteAllText(Path.Combine(run, Trainer.MetricsFile), "{}");
        File.WriteAllText(Path.Combine(run, Trainer.LossCurveFile), "<svg/>");
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");

        Assert.True(QuickstartPipeline.RemovePreviousRun(run));
        Assert.Equal([Path.Combine(run, "notes.txt")], Directory.GetFileSystemEntries(run));
        Assert.Empty(CheckpointDirectory.List(run));
    }
}
