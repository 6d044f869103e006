using System.Globalization;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests.Objectives;

/// <summary>
/// A T5 encoder-decoder pretrained on span corruption by the same trainer and tool as the other families: it learns the
/// corrupted spans, resumes bit for bit, and `lmforge generate` decodes its answers (a checkpoint of another kind is a
/// one-line error naming the command for it).
/// </summary>
public class T5TrainingTests
{
    const string Text = "the {0} red boats sail past the {1} old harbours at dawn and the gulls follow them out to sea. ";

    static TrainingConfig Config(string directory, int steps)
    {
        string text = string.Concat(Enumerable.Range(0, 400).Select(i => string.Format(CultureInfo.InvariantCulture, Text, i % 9, i % 5)));
        var (tokenizer, train, validation, vocabulary) = TestFiles.Corpus(directory, text, 420, [.. EncoderTokens.All, .. SentinelTokens.Names()]);
        return new TrainingConfig
        {
            Architecture = "t5", Objective = TrainingObjectives.Span, Layers = 2, Heads = 2, EmbeddingSize = 32, ContextLength = 32,
            VocabularySize = vocabulary, Tokenizer = tokenizer, TrainShards = train, ValidationShards = validation,
            MicroBatchSize = 8, TotalBatchTokens = 8 * 32, LearningRate = 1e-2f, MinLearningRate = 1e-3f, WarmupSteps = 5,
            Steps = steps, Seed = 5, EvalEvery = 10, EvalBatches = 4, SampleEvery = 0, CheckpointEvery = 0,
        };
    }

    [Fact]
    public void A_t5_learns_the_corrupted_spans_and_resumes_bit_for_bit()
    {
        string directory = TestFiles.TemporaryDirectory("t5-training");
        var config = Config(directory, 100);
        using var straight = TrainableModels.Create(config, CpuBackend.Shared);
        Assert.IsType<EncoderDecoderTrainableModel>(straight);
        using (var trainer = Trainer.Start(config, straight, CpuBackend.Shared, Path.Combine(directory, "straight"))) trainer.Run();
        var records = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));
        var validation = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationLoss!.Value).ToList();
        Assert.True(validation[^1] < 0.6 * validation[0], $"span target validation loss {validation[0]:F3} -> {validation[^1]:F3}");
        var accuracy = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationAccuracy!.Value).ToList();
        Assert.True(accuracy[^1] > accuracy[0] + 0.25, $"span target validation accuracy {accuracy[0]:P1} -> {accuracy[^1]:P1}");

        string interrupted = Path.Combine(directory, "interrupted");
        using (var first = TrainableModels.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, first, CpuBackend.Shared, interrupted))
        {
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(23, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        using var resumed = TrainableModels.Create(config, CpuBackend.Shared);
        using (var trainer = Trainer.Resume(config, resumed, CpuBackend.Shared, interrupted, CheckpointDirectory.FindLatest(interrupted)!)) trainer.Run();
        var again = MetricsLog.Read(Path.Combine(interrupted, Trainer.MetricsFile));
        Assert.Equal(records.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)), again.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)));
        Assert.Equal(straight.Backend.ToHost(straight.Parameters), resumed.Backend.ToHost(resumed.Parameters));
    }

    // `lmforge train` with architecture t5 (its progress samples answer sentinels), then `lmforge generate` on the run.
    [Fact]
    public void Train_and_generate_through_the_tool()
    {
        string directory = TestFiles.TemporaryDirectory("t5-tool");
        var config = Config(directory, 100);
        string run = Path.Combine(directory, "run");
        var (exitCode, output, errors) = TestFiles.RunTool("train", "--tokenizer", config.Tokenizer, "--train", config.TrainShards, "--val", config.ValidationShards,
            "--out", run, "--set", "architecture=t5", "--set", "objective=span", "--set", "layers=1", "--set", "heads=2", "--set", "embeddingSize=32",
            "--set", "contextLength=32", "--set", "microBatchSize=8", "--set", "totalBatchTokens=256", "--set", "steps=100", "--set", "sampleEvery=50",
            "--set", "sampleTokens=8", "--set", "evalEvery=50", "--set", "learningRate=1e-2");
        Assert.True(exitCode == 0, errors + output);
        Assert.Contains("t5: 1+1 layers (encoder+decoder)", output);
        Assert.Contains("<extra_id_0> of the <extra_id_1> is <extra_id_2>. →", output);
        Assert.Contains("validation loss", output);
        Assert.Contains(", accuracy ", output);

        (exitCode, output, errors) = TestFiles.RunTool("generate", "--checkpoint", run, "--max-tokens", "12",
            "the 3 red <extra_id_0> past the 2 old harbours at <extra_id_1> and the gulls", "the 4 red boats sail <extra_id_0>");
        Assert.True(exitCode == 0, errors);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length); // each input, then its answer
        Assert.StartsWith("[1] the 3 red <extra_id_0>", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("<extra_id_0>", lines[1], StringComparison.Ordinal); // a trained T5 answers with the first sentinel

        string decoder = LmForge.Tests.Shared.ChatCheckpoint.Create(TestFiles.TemporaryDirectory("t5-generate-decoder"), width: 32, layers: 1, context: 32);
        (exitCode, _, errors) = TestFiles.RunTool("generate", "--checkpoint", decoder, "text <extra_id_0>");
        Assert.Equal(1, exitCode);
        Assert.Equal($"error: {decoder}: a llama checkpoint is a decoder, which lmforge generate cannot run; use lmforge sample --checkpoint {decoder}", errors.Trim());
        (exitCode, _, errors) = TestFiles.RunTool("sample", "--checkpoint", run);
        Assert.Equal(1, exitCode);
        Assert.Contains("a t5 checkpoint is an encoder-decoder, which lmforge sample cannot run; use lmforge generate --checkpoint", errors);
    }
}
