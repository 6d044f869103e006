using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests.Objectives;

/// <summary>A BERT encoder pretrained on the masked objective by the same trainer: it learns, and resumes bit for bit.</summary>
public class MaskedTrainingTests
{
    static TrainingConfig Config(string directory, int steps)
    {
        string text = string.Concat(Enumerable.Range(0, 400).Select(i => $"the {i % 9} red boats sail past the {i % 5} old harbours at dawn. "));
        var (tokenizer, train, validation, vocabulary) = TestFiles.Corpus(directory, text, 300, EncoderTokens.All);
        return new TrainingConfig
        {
            Architecture = "bert", Objective = TrainingObjectives.Masked, Layers = 2, Heads = 2, EmbeddingSize = 32, ContextLength = 32,
            VocabularySize = vocabulary, Tokenizer = tokenizer, TrainShards = train, ValidationShards = validation,
            MicroBatchSize = 4, TotalBatchTokens = 4 * 32, LearningRate = 3e-3f, MinLearningRate = 3e-4f, WarmupSteps = 5,
            Steps = steps, Seed = 5, EvalEvery = 10, EvalBatches = 4, SampleEvery = 0, CheckpointEvery = 0,
        };
    }

    [Fact]
    public void A_bert_learns_the_masked_tokens_and_resumes_bit_for_bit()
    {
        string directory = TestFiles.TemporaryDirectory("masked-training");
        var config = Config(directory, 60);
        using var straight = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using (var trainer = Trainer.Start(config, straight, CpuBackend.Shared, Path.Combine(directory, "straight"))) trainer.Run();
        var records = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));
        var validation = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationLoss!.Value).ToList();
        Assert.True(validation[^1] < 0.7 * validation[0], $"masked-token validation loss {validation[0]:F3} -> {validation[^1]:F3}");
        // the masked-token accuracy comes with every validation loss, and rises well above chance (1 in 300 tokens)
        var accuracy = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationAccuracy!.Value).ToList();
        Assert.True(accuracy[0] < 0.02 && accuracy[^1] > 0.05, $"masked-token validation accuracy {accuracy[0]:P1} -> {accuracy[^1]:P1}");

        string interrupted = Path.Combine(directory, "interrupted");
        using (var first = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, first, CpuBackend.Shared, interrupted))
        {
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(23, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        using var resumed = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using (var trainer = Trainer.Resume(config, resumed, CpuBackend.Shared, interrupted, CheckpointDirectory.FindLatest(interrupted)!)) trainer.Run();
        var again = MetricsLog.Read(Path.Combine(interrupted, Trainer.MetricsFile));
        Assert.Equal(records.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)), again.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)));
        Assert.Equal(LmForge.Tensors.BackendCopies.ToHost(straight.Backend, straight.Parameters), LmForge.Tensors.BackendCopies.ToHost(resumed.Backend, resumed.Parameters));
    }

    // The trained encoder through `lmforge fill-mask`: candidates for each [MASK], most likely first; a decoder or a
    // text without [MASK] is a one-line error.
    [Fact]
    public void Fill_mask_predicts_with_the_trained_encoder()
    {
        string directory = TestFiles.TemporaryDirectory("fill-mask");
        var config = Config(directory, 120);
        string run = Path.Combine(directory, "run");
        using (var model = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.CheckpointExtraFiles = [config.Tokenizer];
            trainer.Run();
        }
        var (exitCode, output, errors) = TestFiles.RunTool("fill-mask", "--checkpoint", run, "--top", "3", "the 3 red [MASK] sail past the 2 old [MASK] at dawn.");
        Assert.True(exitCode == 0, errors);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["[MASK] 1:", "[MASK] 2:"], lines.Where(l => l.StartsWith("[MASK]", StringComparison.Ordinal)));
        var probabilities = lines.Where(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Trim().Split('%')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(6, probabilities.Count);
        Assert.True(probabilities[0] >= probabilities[1] && probabilities[1] >= probabilities[2] && probabilities.Take(3).Sum() <= 100.05);

        (exitCode, _, errors) = TestFiles.RunTool("fill-mask", "--checkpoint", run, "no mask here");
        Assert.Equal(1, exitCode);
        Assert.Equal("error: the text has no [MASK]; put [MASK] where a word should be predicted", errors.Trim());

        (exitCode, _, errors) = TestFiles.RunTool("generate", "--checkpoint", run, "the 3 red <extra_id_0>");
        Assert.Equal(1, exitCode);
        Assert.StartsWith($"error: {run}", errors, StringComparison.Ordinal); // the run's newest checkpoint
        Assert.Contains(": a bert checkpoint is an encoder, which lmforge generate cannot run; use lmforge fill-mask --checkpoint ", errors, StringComparison.Ordinal);

        string decoder = LmForge.Tests.Shared.ChatCheckpoint.Create(TestFiles.TemporaryDirectory("fill-mask-decoder"), width: 32, layers: 1, context: 32);
        (exitCode, _, errors) = TestFiles.RunTool("fill-mask", "--checkpoint", decoder, "the [MASK] sat");
        Assert.Equal(1, exitCode);
        Assert.Equal($"error: {decoder}: a llama checkpoint is a decoder, which lmforge fill-mask cannot run; use lmforge sample --checkpoint {decoder}", errors.Trim());
    }

    [Fact]
    public void A_tokenizer_without_mask_says_how_to_get_one()
    {
        string directory = TestFiles.TemporaryDirectory("masked-no-mask");
        var config = Config(directory, 2);
        var plain = new BpeTrainer(new BpeTrainerOptions { VocabSize = 280, Threads = 1 }).TrainOnTexts(["the red boats sail past"]);
        string other = Path.Combine(directory, "plain");
        config = config with { Tokenizer = CheckpointTokenizer.Save(plain, other) };
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run")));
        Assert.Contains("no [MASK] token", e.Message);
        Assert.Contains("lmforge tokenizer train --encoder", e.Message);
    }
}
