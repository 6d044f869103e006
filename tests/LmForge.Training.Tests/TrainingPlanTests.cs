using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

/// <summary>
/// lmforge plan's numbers: the parameter count is the built model's for every family, the FLOP count is the trainer's
/// (one function), tokens take K/M/B/T suffixes; the trainer's MFU never reads above 100 %, and every checkpoint holds
/// a model card with the run's numbers.
/// </summary>
public class TrainingPlanTests
{
    static TrainingConfig Small(string architecture) => new TrainingConfig
    {
        Architecture = architecture,
        Objective = architecture switch { "bert" => TrainingObjectives.Masked, "t5" => TrainingObjectives.Span, _ => TrainingObjectives.Causal },
        Layers = 2, Heads = 4, KeyValueHeads = architecture == "llama" ? 2 : 0, EmbeddingSize = 32, ContextLength = 64, VocabularySize = 300,
        MicroBatchSize = 2, TotalBatchTokens = 128,
    };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    [InlineData("bert")]
    [InlineData("t5")]
    public void PlannedParameterCount_IsTheBuiltModels(string architecture)
    {
        var config = Small(architecture);
        var plan = TrainingPlan.Create(config, tokens: 1_000_000);
        using var model = architecture == "t5"
            ? (ITrainableModel)new EncoderDecoderTrainableModel(new EncoderDecoderModel(config.ToModelConfig(decoderStartToken: 0)))
            : new TransformerTrainableModel(new TransformerModel(config.ToModelConfig()));
        Assert.Equal(model.Parameters.Length, plan.Parameters);
        Assert.Equal(architecture, plan.Model.Family);
        // the planner's FLOPs are the trainer's
        Assert.Equal(model.TrainingFlopsPerToken(config.ContextLength, plan.TargetLength), plan.FlopsPerToken);
        Assert.Equal(plan.FlopsPerToken * 1_000_000, plan.TotalFlops);
        Assert.Equal(16L * plan.Parameters, plan.WeightBytes + plan.GradientBytes + plan.OptimizerBytes);
        Assert.True(plan.ActivationBytes > 0);
        Assert.Equal(20L * plan.Parameters, plan.ComputeOptimalTokens);
    }

    [Fact]
    public void DecoderFlops_AreSixPerMultiplyingParameterPlusAttention()
    {
        // GPT-2: the tied token embedding is the head's matrix and counts; the learned positions are a lookup and do not
        var config = TransformerConfig.Gpt2(vocabSize: 512, contextLength: 64, layerCount: 3, headCount: 4, width: 64);
        using var model = new TransformerModel(config);
        var trainable = new TransformerTrainableModel(model);
        double expected = (6.0 * (model.ParameterCount - (64 * 64))) + (12.0 * 3 * 4 * 16 * 64);
        Assert.Equal(expected, trainable.TrainingFlopsPerToken(64));
        Assert.Equal(expected, TrainingFlops.PerToken(config, 64));
        // Llama: the untied token embedding is a lookup (the separate head counts); no position table
        var llama = TransformerConfig.Llama(512, 64, layerCount: 2, headCount: 4, keyValueHeadCount: 2, width: 64, intermediateSize: 96);
        using var llamaModel = new TransformerModel(llama);
        Assert.Equal((6.0 * (llamaModel.ParameterCount - (512L * 64))) + (12.0 * 2 * 4 * 16 * 64), TrainingFlops.PerToken(llama, 64));
        // GPT-2 small: 124M parameters, as Hugging Face counts them
        Assert.Equal(124_439_808, TrainingFlops.ParameterCount(TransformerConfig.Gpt2Small with { VocabPadding = 0 }));
    }

    [Theory]
    [InlineData("10B", 10_000_000_000)]
    [InlineData("1.5T", 1_500_000_000_000)]
    [InlineData("500k", 500_000)]
    [InlineData("20M", 20_000_000)]
    [InlineData("123456", 123_456)]
    [InlineData("2_000", 2_000)]
    public void Tokens_TakeSuffixes(string text, long expected) => Assert.Equal(expected, TrainingPlan.ParseTokens(text));

    [Theory]
    [InlineData("ten")]
    [InlineData("10X")]
    [InlineData("-5M")]
    [InlineData("")]
    public void BadTokens_AreAOneLineError(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => TrainingPlan.ParseTokens(text));
        Assert.Contains("--tokens", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Gpus_AreFoundByLooseName_AndAnUnknownOneIsNamed()
    {
        Assert.Equal(989e12, GpuPeaks.Find("H100").FlopsPerSecond);
        Assert.Equal(165e12, GpuPeaks.Find("rtx-4090").FlopsPerSecond);
        var error = Assert.Throws<ArgumentException>(() => GpuPeaks.Find("v100"));
        Assert.Contains("h100", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainerMfu_NeverReadsAboveOne_AndSaysThePeakIsTooLow()
    {
        string directory = TestFiles.TemporaryDirectory("plan-mfu");
        var config = ShortRun(directory);
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"));
        trainer.Peak = MachinePeak.Stated(statedGflops: 1e-6);   // 1,000 FLOP/s: every step exceeds it
        var warnings = new List<string>();
        trainer.Listener = new Warnings(warnings);
        trainer.Run();
        var records = MetricsLog.Read(Path.Combine(directory, "run", Trainer.MetricsFile));
        Assert.All(records, r => Assert.InRange(r.Mfu, 0, 1));
        Assert.Contains(records, r => r.Mfu == 1);
        Assert.True(trainer.PeakExceeded);
        Assert.Single(warnings);
        Assert.Contains("the peak is too low", warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void EveryCheckpoint_HoldsAModelCard_WithTheRunsNumbers()
    {
        string directory = TestFiles.TemporaryDirectory("plan-card");
        var config = ShortRun(directory);
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"));
        trainer.Peak = MachinePeak.Stated(statedGflops: 250);
        string tokenizer = Path.Combine(directory, "tokenizer.json");
        File.WriteAllText(tokenizer, """{"added_tokens": [{"id": 30, "content": "<|endoftext|>", "special": true}, {"id": 31, "content": "[MASK]", "special": true}, {"id": 29, "content": "word", "special": false}]}""");
        trainer.CheckpointExtraFiles = [tokenizer];
        var result = trainer.Run();

        string card = File.ReadAllText(Path.Combine(result.CheckpointDirectory, ModelCard.FileName));
        // front matter, then markdown
        string[] lines = card.Split('\n');
        Assert.Equal("---", lines[0]);
        int end = Array.IndexOf(lines, "---", 1);
        Assert.True(end > 1, "no closing --- of the front matter");
        var front = lines[1..end];
        Assert.Contains("library_name: lmforge", front);
        Assert.Contains("pipeline_tag: text-generation", front);
        int tags = Array.IndexOf(front, "tags:");
        Assert.True(tags >= 0);
        Assert.Contains("- gpt2", front[(tags + 1)..]);
        Assert.Contains("- lmforge", front[(tags + 1)..]);
        Assert.All(front, l => Assert.Matches(@"^([a-z_]+:( .+)?|- .+)$", l));
        string body = string.Join('\n', lines[(end + 1)..]);
        foreach (string section in new[] { "## Model", "## Tokenizer", "## Data", "## Training", "## Results", "## Intended use and limitations", "## How to use" })
            Assert.Contains($"\n{section}\n", body, StringComparison.Ordinal);

        Assert.Contains($"| parameters | {model.ParameterCount:N0} |", body, StringComparison.Ordinal);
        Assert.Contains($"| steps | {config.Steps:N0} of {config.Steps:N0} |", body, StringComparison.Ordinal);
        Assert.Contains($"| tokens | {(long)config.Steps * config.TotalBatchTokens:N0}", body, StringComparison.Ordinal);
        Assert.Contains("| peak | stated 250 GFLOP/s |", body, StringComparison.Ordinal);
        Assert.Contains($"Validation loss {result.LastValidationLoss!.Value.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)} nats/token", body, StringComparison.Ordinal);
        Assert.Contains($"at step {config.Steps}", body, StringComparison.Ordinal);
        Assert.Contains("| train | train_000.bin | 3,000 |", body, StringComparison.Ordinal);
        Assert.Contains("lmforge sample --checkpoint", body, StringComparison.Ordinal);
        Assert.Contains("Byte-level BPE, 32 tokens (`tokenizer.json` in this directory).", body, StringComparison.Ordinal);
        Assert.Contains("Special tokens (2): `<|endoftext|>`, `[MASK]`.", body, StringComparison.Ordinal);
        // part of the atomic checkpoint: no temporary directory left behind
        Assert.All(Directory.GetDirectories(Path.Combine(directory, "run")), d => Assert.StartsWith("step-", Path.GetFileName(d), StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(directory, "run", "step-000010", ModelCard.FileName)));   // the periodic checkpoint too
    }

    [Fact]
    public void PlanCommand_PrintsTheModelsNumbers_AndOneLineErrors()
    {
        var (code, output, errors) = TestFiles.RunTool("plan", "--set", "layers=12", "--set", "embedding-size=768", "--set", "heads=12",
            "--set", "vocabulary-size=50257", "--set", "context-length=1024", "--set", "peak-gflops=500", "--tokens", "10B", "--gpu", "h100");
        Assert.True(code == 0, errors);
        var plan = TrainingPlan.Create(new TrainingConfig { Layers = 12, EmbeddingSize = 768, Heads = 12, VocabularySize = 50257, ContextLength = 1024, MicroBatchSize = 8, TotalBatchTokens = 8192 }, 10_000_000_000);
        Assert.Contains($"parameters   {plan.Parameters:N0} (124.5M)", output, StringComparison.Ordinal);
        Assert.Contains("2.5B tokens is compute-optimal", output, StringComparison.Ordinal);
        Assert.Contains("stated 500 GFLOP/s", output, StringComparison.Ordinal);
        Assert.Contains("| H100 SXM | 989 TFLOP/s | 396 TFLOP/s |", output, StringComparison.Ordinal);
        Assert.DoesNotContain("A100", output, StringComparison.Ordinal);

        // a T5 without an objective gets span corruption; its count is the built model's
        (code, output, errors) = TestFiles.RunTool("plan", "--set", "architecture=t5", "--set", "layers=2", "--set", "peak-gflops=500", "--tokens", "1M");
        Assert.True(code == 0, errors);
        Assert.Contains($"parameters   {TrainingPlan.Create(Small("t5") with { Layers = 2, Heads = 4, EmbeddingSize = 128, ContextLength = 128, VocabularySize = 4096, MicroBatchSize = 8, TotalBatchTokens = 1024 }, 1).Parameters:N0}", output, StringComparison.Ordinal);

        (code, _, errors) = TestFiles.RunTool("plan", "--tokens", "lots");
        Assert.Equal(1, code);
        Assert.Equal("error: --tokens lots: expected a positive count with an optional suffix K, M, B or T, e.g. 10B", errors.Trim());
    }

    [Theory]
    [InlineData("gpt2", "text-generation")]
    [InlineData("llama", "text-generation")]
    [InlineData("bert", "fill-mask")]
    [InlineData("t5", "text2text-generation")]
    public void PipelineTag_FollowsTheFamily(string family, string tag) => Assert.Equal(tag, ModelCard.PipelineTag(family));

    static TrainingConfig ShortRun(string directory)
    {
        var random = new Random(7);
        List<int> Stream(int n)
        {
            var tokens = new List<int> { 0 };
            while (tokens.Count < n) tokens.Add(random.NextDouble() < 0.9 ? (tokens[^1] + 1) % 32 : random.Next(32));
            return tokens;
        }
        TestFiles.WriteShard(Path.Combine(directory, "train_000.bin"), Stream(3000));
        TestFiles.WriteShard(Path.Combine(directory, "val_000.bin"), Stream(600));
        return new TrainingConfig
        {
            Layers = 1, Heads = 2, EmbeddingSize = 16, ContextLength = 8, VocabularySize = 32,
            TrainShards = Path.Combine(directory, "train_*.bin"), ValidationShards = Path.Combine(directory, "val_*.bin"),
            MicroBatchSize = 4, TotalBatchTokens = 32, Steps = 12, EvalEvery = 5, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 5,
        };
    }

    sealed class Warnings(List<string> messages) : ITrainingListener
    {
        public void OnWarning(string message) => messages.Add(message);
    }
}
