using Xunit.Abstractions;
using System.Text.Json;
using System.Text.Json.Nodes;
using LmForge.Tensors.Cpu;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests;

/// <summary>
/// The trainer against PyTorch: tests/reference/make_training_fixture.py trained the same tiny GPT (same initial
/// weights, shards, batch order, warmup+cosine schedule, accumulation, clipping, AdamW with decay on matrices) with
/// torch and recorded its losses. Our run from the same Hugging Face-layout initial checkpoint must follow it.
/// </summary>
public class PyTorchAgreementTests(ITestOutputHelper output)
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");

    [Fact]
    public void TrainingMatchesPyTorch_StepByStep_AndTheValidationLossWithinOnePercent()
    {
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture, "expected.json")))!.AsObject();
        var config = TrainingConfig.Parse(expected["config"]!.ToJsonString(), "expected.json") with
        {
            TrainShards = Path.Combine(Fixture, "train_000000.bin"),
            ValidationShards = Path.Combine(Fixture, "val_000000.bin"),
        };
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        model.LoadWeights(Path.Combine(Fixture, "init")); // Hugging Face layout, through the Models area's Gpt2Checkpoint
        string run = TestFiles.TemporaryDirectory("pytorch-agreement");
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run))
        {
            trainer.Run();
        }
        var records = MetricsLog.Read(Path.Combine(run, Trainer.MetricsFile));
        float[] torchLosses = expected["trainLosses"]!.Deserialize<float[]>()!;
        float[] torchNorms = expected["gradientNorms"]!.Deserialize<float[]>()!;
        Assert.Equal(torchLosses.Length, records.Count(r => r.TrainLoss is not null));
        double worstLoss = 0, worstNorm = 0;
        for (int step = 0; step < torchLosses.Length; step++)
        {
            worstLoss = Math.Max(worstLoss, Math.Abs(records[step].TrainLoss!.Value - torchLosses[step]) / torchLosses[step]);
            worstNorm = Math.Max(worstNorm, Math.Abs(records[step].GradientNorm!.Value - torchNorms[step]) / torchNorms[step]);
            // float32 in both; measured differences are about 3e-7 (losses) and 3e-6 (norms), so these bounds leave a wide margin.
            Assert.True(Math.Abs(records[step].TrainLoss!.Value - torchLosses[step]) <= 1e-4 * torchLosses[step],
                $"step {step}: train loss {records[step].TrainLoss} vs PyTorch {torchLosses[step]}");
            Assert.True(Math.Abs(records[step].GradientNorm!.Value - torchNorms[step]) <= 1e-3 * torchNorms[step],
                $"step {step}: gradient norm {records[step].GradientNorm} vs PyTorch {torchNorms[step]}");
        }
        output.WriteLine($"largest relative difference over {torchLosses.Length} steps: train loss {worstLoss:E2}, gradient norm {worstNorm:E2}");
        foreach (var (stepText, value) in expected["validationLosses"]!.AsObject())
        {
            int step = int.Parse(stepText, System.Globalization.CultureInfo.InvariantCulture);
            float torchValidation = value!.GetValue<float>();
            float ours = records.Last(r => r.Step == step && r.ValidationLoss is not null).ValidationLoss!.Value;
            output.WriteLine($"step {step}: validation loss {ours:F6} (PyTorch {torchValidation:F6}, relative difference {Math.Abs(ours - torchValidation) / torchValidation:E2})");
            Assert.True(Math.Abs(ours - torchValidation) <= 0.01 * torchValidation, $"step {step}: validation loss {ours} vs PyTorch {torchValidation}");
        }
        // The loss really fell, so agreement is not agreement on doing nothing.
        Assert.True(torchLosses[^1] < 0.6 * torchLosses[0]);
    }
}
