using System.Text.Json;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>Supervised fine-tuning through the pretraining trainer: it learns the replies, and resumes bit for bit.</summary>
public class FineTuningTests
{
    // Arithmetic conversations: the reply is a function of the question, so a model can learn it.
    static (string Conversations, string Tokenizer) Data(string directory)
    {
        var lines = new List<string>();
        for (int a = 0; a < 10; a++)
        {
            for (int b = 0; b < 10; b++)
            {
                var messages = new List<object>();
                if ((a + b) % 3 == 0) messages.Add(new { role = "system", content = "Answer with the sum." });
                messages.Add(new { role = "user", content = $"{a} plus {b}?" });
                messages.Add(new { role = "assistant", content = $"{a + b}." });
                lines.Add(JsonSerializer.Serialize(new { messages }));
            }
        }
        string conversations = Path.Combine(directory, "chats.jsonl");
        File.WriteAllLines(conversations, lines);
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
            .TrainOnTexts([File.ReadAllText(conversations)]);
        string tokenizer = CheckpointTokenizer.Save(trained, directory);
        return (conversations, tokenizer);
    }

    static TrainingConfig Config(string conversations, string tokenizer, string architecture, int steps) => new()
    {
        Architecture = architecture, KeyValueHeads = architecture == "llama" ? 1 : 0,
        Layers = 2, Heads = 2, EmbeddingSize = 32, ContextLength = 64, VocabularySize = 300,
        TrainChats = conversations, Tokenizer = tokenizer, ValidationFraction = 0.1f,
        MicroBatchSize = 4, TotalBatchTokens = 4 * 64, LearningRate = 3e-3f, MinLearningRate = 3e-4f, WarmupSteps = 5,
        Steps = steps, Seed = 99, EvalEvery = 5, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 0,
    };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Fine_tuning_learns_the_replies_and_resumes_bit_for_bit(string architecture)
    {
        string directory = TestFiles.TemporaryDirectory("sft-" + architecture);
        var (conversations, tokenizer) = Data(directory);
        const int steps = 40;
        var config = Config(conversations, tokenizer, architecture, steps);

        using var straight = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        TrainingResult result;
        using (var trainer = Trainer.Start(config, straight, CpuBackend.Shared, Path.Combine(directory, "straight"))) result = trainer.Run();
        var records = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));
        var validation = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationLoss!.Value).ToList();
        Assert.True(validation[^1] < 0.6 * validation[0], $"validation loss on held-out replies {validation[0]:F3} -> {validation[^1]:F3}: it did not learn them");

        string interrupted = Path.Combine(directory, "interrupted");
        using (var first = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, first, CpuBackend.Shared, interrupted))
        {
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(17, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        using var resumed = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        using (var trainer = Trainer.Resume(config, resumed, CpuBackend.Shared, interrupted, CheckpointDirectory.FindLatest(interrupted)!)) trainer.Run();
        var again = MetricsLog.Read(Path.Combine(interrupted, Trainer.MetricsFile));
        Assert.Equal(records.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.GradientNorm)), again.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.GradientNorm)));
        Assert.Equal(straight.Backend.ToHost(straight.Parameters), resumed.Backend.ToHost(resumed.Parameters));
    }

    [Fact]
    public void Resuming_with_other_conversations_is_refused()
    {
        string directory = TestFiles.TemporaryDirectory("sft-other-data");
        var (conversations, tokenizer) = Data(directory);
        var config = Config(conversations, tokenizer, "gpt2", 4) with { CheckpointEvery = 2 };
        string run = Path.Combine(directory, "run");
        using (var model = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run)) trainer.Run();
        File.AppendAllLines(conversations, [File.ReadAllLines(conversations)[0]]);
        using var resumed = TransformerTrainableModel.Create(config with { Steps = 8 }, CpuBackend.Shared);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Resume(config with { Steps = 8 }, resumed, CpuBackend.Shared, run, CheckpointDirectory.FindLatest(run)!));
        Assert.Contains("the training data differs", e.Message);
    }
}
