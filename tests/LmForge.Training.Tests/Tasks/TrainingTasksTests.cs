using System.Globalization;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;
using LmForge.Training.Tasks;

namespace LmForge.Training.Tests.Tasks;

/// <summary>Evaluation tasks during training (evalTasks): scored with every validation, into metrics.jsonl and the loss curve's second panel.</summary>
public class TrainingTasksTests
{
    [Fact]
    public void A_run_scores_its_tasks_with_every_validation_and_they_improve()
    {
        string directory = TestFiles.TemporaryDirectory("training-tasks");
        string text = string.Concat(Enumerable.Range(0, 400).Select(i => string.Format(CultureInfo.InvariantCulture,
            "the {0} red boats sail past the {1} old harbours at dawn. ", i % 9, i % 5)));
        var (_, train, validation, vocabulary) = TestFiles.Corpus(directory, text, 300);
        // which word comes next, at four places of the sentence, among four words of the text
        string[] words = ["harbours", "boats", "dawn", "red"];
        (string Context, string Answer)[] places = [("the {0} red boats sail past the {1} old", "harbours"), ("the {0} red", "boats"),
            ("the {0} red boats sail past the {1} old harbours at", "dawn"), ("the {0}", "red")];
        File.WriteAllLines(Path.Combine(directory, "ending.jsonl"), Enumerable.Range(0, 12).Select(i =>
        {
            var (context, answer) = places[i % 4];
            var choices = words.Skip(i % 3).Concat(words.Take(i % 3)).ToArray();
            return $"{{\"context\": \"{string.Format(CultureInfo.InvariantCulture, context, i % 9, i % 5)}\", \"choices\": [{string.Join(", ", choices.Select(c => $"\"{c}\""))}], \"answer\": {Array.IndexOf(choices, answer)}}}";
        }));
        string tasks = Path.Combine(directory, "tasks.json");
        File.WriteAllText(tasks, "{\"tasks\": [{\"name\": \"ending\", \"file\": \"ending.jsonl\", \"format\": \"multiple-choice\"}]}");
        var config = new TrainingConfig
        {
            Layers = 2, Heads = 2, EmbeddingSize = 32, ContextLength = 32, VocabularySize = vocabulary,
            TrainShards = train, ValidationShards = validation, MicroBatchSize = 4, TotalBatchTokens = 4 * 32, LearningRate = 3e-3f,
            MinLearningRate = 3e-4f, WarmupSteps = 5, Steps = 60, Seed = 5, EvalEvery = 20, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 0,
            EvalTasks = tasks, EvalTasksLimit = 10,
        };

        string run = Path.Combine(directory, "run");
        using (var model = TrainableModels.Create(config, CpuBackend.Shared))
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.Peak = LmForge.Tensors.Cpu.MachinePeak.Get(statedGflops: 200);
            trainer.Tasks = TaskEvaluation.Open(config, CheckpointTokenizer.Load(directory));
            trainer.Run();
        }
        var records = MetricsLog.Read(Path.Combine(run, Trainer.MetricsFile));
        var evaluated = records.Where(r => r.ValidationLoss is not null).ToList();
        Assert.Equal([0, 20, 40, 60], evaluated.Select(r => r.Step));
        Assert.All(evaluated, r => Assert.Equal(["core", "ending"], r.TaskScores!.Keys.Order(StringComparer.Ordinal)));
        Assert.All(records.Where(r => r.ValidationLoss is null), r => Assert.Null(r.TaskScores));
        float first = evaluated[0].TaskScores!["ending"], last = evaluated[^1].TaskScores!["ending"];
        Assert.True(last >= 0.9f && last > first + 0.3f, $"the ending task's acc_norm {first:F2} -> {last:F2}");
        Assert.Equal((last - 0.25f) / 0.75f, evaluated[^1].TaskScores!["core"], 5); // one task: core is its centred score
        Assert.Contains("task acc_norm", File.ReadAllText(Path.Combine(run, Trainer.LossCurveFile)), StringComparison.Ordinal);
        string card = File.ReadAllText(Path.Combine(CheckpointDirectory.FindLatest(run)!, "README.md"));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"| ending | {last:F4} |"), card, StringComparison.Ordinal);

        // a bad task file stops the run before it starts, naming the file and line
        File.AppendAllText(Path.Combine(directory, "ending.jsonl"), "{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 5}\n");
        var error = Assert.Throws<InvalidDataException>(() => TaskEvaluation.Open(config, CheckpointTokenizer.Load(directory)));
        Assert.Contains("ending.jsonl:13:", error.Message, StringComparison.Ordinal);
    }
}
