using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tests.Shared;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

/// <summary>The trainer with the engine's GPT-2 and Llama-style decoder: bit-exact resume, checkpoints loadable as models, shape checks.</summary>
public class TransformerTrainingTests
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");

    static TrainingConfig TinyGpt(int steps, string architecture = "gpt2") => new()
    {
        Architecture = architecture, KeyValueHeads = architecture == "llama" ? 1 : 0,
        Layers = 2, Heads = 2, EmbeddingSize = 32, ContextLength = 16, VocabularySize = 64,
        TrainShards = Path.Combine(Fixture, "train_000000.bin"), ValidationShards = Path.Combine(Fixture, "val_000000.bin"),
        MicroBatchSize = 4, TotalBatchTokens = 4 * 16 * 2, LearningRate = 1e-2f, MinLearningRate = 1e-3f, WarmupSteps = 3,
        Steps = steps, Seed = 20230828, EvalEvery = 4, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 0,
    };

    // The interrupted and resumed halves run on the backend under test: on the hostless one (memory the host cannot
    // address, as a GPU's) training, evaluation, checkpoint saving and resuming must reach every tensor through the
    // backend, and give bit for bit what the CPU backend gives.
    [Theory]
    [InlineData("gpt2", false)]
    [InlineData("llama", false)]
    [InlineData("gpt2", true)]
    [InlineData("llama", true)]
    public void Resume_IsBitExact_LossesAndParameters(string architecture, bool hostless)
    {
        const int steps = 10;
        string directory = TestFiles.TemporaryDirectory(architecture + "-resume");
        var config = TinyGpt(steps, architecture);
        using var straight = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using (var trainer = Trainer.Start(config, straight, CpuBackend.Shared, Path.Combine(directory, "straight"))) trainer.Run();

        // Interrupted after half the steps (as Ctrl+C does), then resumed by a fresh model whose weights start zeroed.
        IBackend backend = hostless ? new HostlessBackend() : CpuBackend.Shared;
        string interrupted = Path.Combine(directory, "interrupted");
        using (var first = TransformerTrainableModel.Create(config, backend))
        using (var trainer = Trainer.Start(config, first, backend, interrupted))
        {
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(steps / 2, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        using var resumed = TransformerTrainableModel.Create(config, backend);
        backend.Clear(resumed.Parameters);
        using (var trainer = Trainer.Resume(config, resumed, backend, interrupted, CheckpointDirectory.FindLatest(interrupted)!)) trainer.Run();

        var a = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));
        var b = MetricsLog.Read(Path.Combine(interrupted, Trainer.MetricsFile));
        Assert.Equal(a.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.GradientNorm, r.LearningRate)),
            b.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.GradientNorm, r.LearningRate)));
        Assert.Contains(b, r => r.ValidationLoss is not null);
        Assert.Equal(straight.Backend.ToHost(straight.Parameters), backend.ToHost(resumed.Parameters));
    }


    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Checkpoint_LoadsAsAModel_WithTheSameLogits_AndEvaluatesToTheTrainersValidationLoss(string architecture)
    {
        string run = TestFiles.TemporaryDirectory(architecture + "-checkpoint");
        var config = TinyGpt(3, architecture) with { EvalBatches = 1000 }; // the whole validation shard
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        TrainingResult result;
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run)) result = trainer.Run();

        using var loaded = TransformerTrainableModel.Load(result.CheckpointDirectory, CpuBackend.Shared);
        Assert.Equal(config.ToModelConfig(), loaded.Model.Config); // the family comes from config.json
        Assert.True(model.Parameters.AsSpan().SequenceEqual(loaded.Parameters.AsSpan()));
        model.Model.Forward([1, 2, 3], 1, 3);
        loaded.Model.Forward([1, 2, 3], 1, 3);
        Assert.Equal(model.Model.Logits.ToArray(), loaded.Model.Logits.ToArray());
        var evaluation = Evaluation.Run(loaded, [config.ValidationShards], config.MicroBatchSize);
        Assert.Equal(result.LastValidationLoss!.Value, evaluation.MeanLoss, 5);
    }

    [Fact]
    public void LoadingACheckpointOfAnotherShape_IsAOneLineError()
    {
        string run = TestFiles.TemporaryDirectory("gpt-shape");
        var config = TinyGpt(1);
        using (var model = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        {
            model.SaveWeights(run);
        }
        using var wider = TransformerTrainableModel.Create(config with { EmbeddingSize = 64 }, CpuBackend.Shared);
        var error = Assert.Throws<InvalidDataException>(() => wider.LoadWeights(run));
        Assert.Equal($"{Path.Combine(run, "config.json")}: the checkpoint's model differs from this one: width 32 vs 64; MLP width 128 vs 256 (checkpoint vs model)", error.Message);
        File.Delete(Path.Combine(run, "config.json"));
        Assert.StartsWith(Path.Combine(run, "config.json") + ": missing", Assert.Throws<FileNotFoundException>(() => TransformerTrainableModel.Load(run, CpuBackend.Shared)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EvaluatingShardsFromAnotherTokenizer_IsAClearError()
    {
        string directory = TestFiles.TemporaryDirectory("gpt-eval-vocab");
        // The first shard is fine; the second, made with a bigger vocabulary, is the one the error must name.
        string good = TestFiles.WriteShard(Path.Combine(directory, "good.bin"), Enumerable.Range(0, 200).Select(i => i % 64).ToList());
        string shard = TestFiles.WriteShard(Path.Combine(directory, "big.bin"), Enumerable.Range(0, 200).Select(i => i * 3).ToList());
        using var model = TransformerTrainableModel.Create(TinyGpt(1), CpuBackend.Shared);
        var error = Assert.Throws<InvalidDataException>(() => Evaluation.Run(model, [good, shard], 2));
        Assert.Equal($"{shard}: token 66 at position 22 is outside the vocabulary (64); the shard was made with another tokenizer", error.Message);
    }
}
