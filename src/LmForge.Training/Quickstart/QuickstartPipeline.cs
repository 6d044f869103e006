using System.Diagnostics;
using LmForge.Data.Corpora;
using LmForge.Inference;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tokenization;
using LmForge.Tokenization.Corpus;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.Quickstart;

/// <summary>
/// The quickstart's stages, each one call, in the order the `lmforge quickstart` command runs them:
/// <code>
/// var files = QuickstartPipeline.CorpusFiles(options, log);
/// var bpe = QuickstartPipeline.TrainTokenizer(files, options.VocabularySize);
/// var tokenizer = bpe.ToTokenizer();
/// var split = QuickstartPipeline.WriteShards(corpusPath, tokenizer, dataDirectory);
/// var config = QuickstartPipeline.DefaultConfig(split, tokenizer.VocabularySize).WithOverrides(options.Overrides);
/// using var model = TransformerTrainableModel.Create(config, backend);
/// config = config with { Steps = QuickstartPipeline.StepsForBudget(model, config, seconds) };
/// using var trainer = Trainer.Start(config, model, backend, runDirectory);
/// trainer.Run(cancellation);
/// </code>
/// </summary>
public static class QuickstartPipeline
{
    /// <summary>$XDG_CACHE_HOME/lmforge, else ~/.cache/lmforge.</summary>
    public static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "lmforge");
    }

    /// <summary>The quickstart's own subdirectories of its run directory (removed by <see cref="RemovePreviousRun"/>).</summary>
    public const string DataSubdirectory = "data", TokenizerSubdirectory = "tokenizer";

    /// <summary>
    /// Makes a quickstart start clean in its own run directory: removes the data, tokenizer, checkpoints, metrics and
    /// loss curve a previous quickstart left there (stale shards would match the training glob, old checkpoints would
    /// mix with the new run). Touches nothing else. Returns whether anything was removed.
    /// </summary>
    public static bool RemovePreviousRun(string runDirectory, IEnumerable<string>? subdirectories = null)
    {
        if (!Directory.Exists(runDirectory)) return false;
        bool removed = false;
        var directories = CheckpointDirectory.List(runDirectory).Select(c => c.Path)
            .Concat(new[] { DataSubdirectory, TokenizerSubdirectory }.Concat(subdirectories ?? []).Select(d => Path.Combine(runDirectory, d)));
        foreach (string directory in directories.Where(Directory.Exists))
        {
            Directory.Delete(directory, recursive: true);
            removed = true;
        }
        foreach (string file in new[] { Trainer.MetricsFile, Trainer.LossCurveFile }.Select(f => Path.Combine(runDirectory, f)).Where(File.Exists))
        {
            File.Delete(file);
            removed = true;
        }
        return removed;
    }

    /// <summary>The corpus files: the user's (checked to exist and hold text) or the cached Brown corpus.</summary>
    public static IReadOnlyList<string> CorpusFiles(QuickstartOptions options, Action<string>? log = null)
    {
        if (options.Corpus is null) return [BrownCorpus.EnsureCached(options.CacheDirectory, log)];
        if (!File.Exists(options.Corpus) && !Directory.Exists(options.Corpus))
            throw new FileNotFoundException($"{options.Corpus}: no such corpus file or directory; pass --corpus with a .txt/.jsonl file or a directory of them");
        var files = CorpusReader.ListFiles(options.Corpus); // throws, naming the directory, when it holds no corpus files
        if (CorpusReader.TotalBytes(files) == 0)
            throw new InvalidDataException($"{options.Corpus}: the corpus is empty; give it some text (a few megabytes trains a small model well)");
        return files;
    }

    /// <summary>A byte-level BPE of the corpus with &lt;|endoftext|&gt;, and the chat markers when <paramref name="chatMarkers"/>.</summary>
    public static TrainedBpe TrainTokenizer(IReadOnlyList<string> files, int vocabularySize, IProgress<BpeTrainingProgress>? progress = null, bool chatMarkers = false)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = vocabularySize,
            Progress = progress,
            SpecialTokens = chatMarkers ? [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] : [BpeTrainerOptions.EndOfText],
        });
        return trainer.TrainOnFiles(files);
    }

    /// <summary>
    /// Encodes the corpus into llm.c shards with the tokenizer area's <see cref="CorpusTokenizer"/> (documents separated
    /// by end-of-text, encoded in parallel). The first 1/<see cref="ValidationFraction"/> of the estimated tokens, taken
    /// from the corpus start as llm.c does, is the validation shard.
    /// </summary>
    public static ShardSplit WriteShards(string corpus, BpeTokenizer tokenizer, string directory, IProgress<TokenizeProgress>? progress = null)
    {
        long bytes = CorpusReader.TotalBytes(CorpusReader.ListFiles(corpus));
        // About 4 bytes per token for English with a few thousand BPE tokens; gzip input holds about 3x more text.
        long estimatedTokens = Math.Max(1, bytes / 4);
        var result = CorpusTokenizer.Run(tokenizer, corpus, directory, new TokenizeOptions
        {
            ValidationTokens = Math.Max(1, estimatedTokens / ValidationFraction),
            Prefix = "corpus",
            Progress = progress,
        });
        if (result.Shards.Count < 2)
            throw new InvalidDataException($"{corpus}: only {result.Tokens} tokens of text, too few to hold out a validation set and train; use more text (a few megabytes trains a small model well)");
        string validation = result.Shards[0];
        var train = result.Shards.Skip(1).ToList();
        long validationTokens = TokenShardReader.Open(validation) is var reader ? Dispose(reader) : 0;
        return new ShardSplit(train, validation, result.Tokens - validationTokens, validationTokens,
            Path.Combine(directory, "corpus_train_*.bin"));

        static long Dispose(TokenShardReader reader)
        {
            using (reader) return reader.TokenCount;
        }
    }

    public const int ValidationFraction = 20;

    /// <summary>
    /// The quickstart's model and optimization (measured on 2 shared Zen 3 cores to learn well within a few minutes):
    /// a 4-layer GPT of width 128 with 4 heads and a context of 128, 8 sequences (1,024 tokens) per step, AdamW at
    /// 3e-3 with 10% warmup and cosine decay to 3e-4.
    /// </summary>
    public static TrainingConfig DefaultConfig(ShardSplit split, int vocabularySize) => new()
    {
        Layers = 4,
        Heads = 4,
        EmbeddingSize = 128,
        ContextLength = 128,
        VocabularySize = vocabularySize,
        TrainShards = split.TrainPattern,
        ValidationShards = split.ValidationShard,
        MicroBatchSize = 8,
        TotalBatchTokens = 8 * 128,
        LearningRate = 3e-3f,
        MinLearningRate = 3e-4f,
        WarmupSteps = 30,
        WeightDecay = 0.1f,
        Steps = 300,
        EvalEvery = 50,
        EvalBatches = 8,
        SampleEvery = 100,
        SampleTokens = 48,
        CheckpointEvery = 0,
        KeepCheckpoints = 2,
    };

    /// <summary>
    /// How many optimizer steps fit in <paramref name="seconds"/>: times forward+backward passes on the config's batch
    /// shape (after warm-up passes) and allows for evaluation. Only gradients are touched, and they are cleared after.
    /// </summary>
    public static int StepsForBudget(ITrainableModel model, TrainingConfig config, double budgetSeconds)
    {
        int b = config.MicroBatchSize, t = config.ContextLength;
        var random = new Random(config.Seed);
        var inputs = new int[b * t];
        var targets = new int[b * t];
        for (int i = 0; i < inputs.Length; i++) (inputs[i], targets[i]) = (random.Next(config.VocabularySize), random.Next(config.VocabularySize));
        model.Backend.Clear(model.Gradients);
        // Warm-up passes (at least 2 s) let the JIT tier up the kernels (methods are recompiled optimized after ~30 calls); then the
        // median of a few timed passes, which a single slow pass on a shared machine does not move.
        var warmUp = Stopwatch.StartNew();
        for (int i = 0; i < 50 && (i < 3 || warmUp.Elapsed.TotalSeconds < 2); i++) model.ForwardBackward(inputs, targets, b, t, 1f);
        var seconds = new double[5];
        for (int i = 0; i < seconds.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            model.ForwardBackward(inputs, targets, b, t, 1f);
            seconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(seconds);
        double microSeconds = seconds[seconds.Length / 2];
        model.Backend.Clear(model.Gradients);
        double stepSeconds = microSeconds * config.GradientAccumulationSteps * 1.03; // + the optimizer and data loading
        // Evaluation: EvalBatches forward passes (measured at about half a forward+backward) every EvalEvery steps.
        double evaluationShare = config.EvalEvery > 0 ? config.EvalBatches * microSeconds / 2 / config.EvalEvery : 0;
        return Math.Max(1, (int)(budgetSeconds / (stepSeconds + evaluationShare)));
    }

    /// <summary>Generates text with <paramref name="tokenizer"/>, starting from a prompt (or from end-of-text when empty).</summary>
    public static string Sample(TransformerModel model, BpeTokenizer tokenizer, string prompt, SamplingOptions options)
    {
        int endOfText = tokenizer.GetSpecialTokenId(BpeTrainerOptions.EndOfText);
        int[] promptTokens = prompt.Length == 0 ? [endOfText] : tokenizer.EncodeOrdinary(prompt);
        using var session = new InferenceSession(model, tokenizer);
        return prompt + string.Concat(session.Stream(promptTokens, options with { StopTokens = [endOfText] }));
    }
}
