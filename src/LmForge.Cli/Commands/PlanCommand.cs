using System.CommandLine;
using System.Globalization;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Training;

namespace LmForge.Cli.Commands;

/// <summary>
/// lmforge plan: what training a model of a config on D tokens takes, before training it: parameters, FLOPs, memory,
/// the compute-optimal token count, and the wall time here (the measured peak × a CPU MFU) and on GPUs (their dense
/// BF16 peaks × an MFU). Nothing is allocated but the FMA probe's registers.
/// </summary>
public static class PlanCommand
{
    /// <summary>
    /// What training reaches of the measured peak here. On the 2-core Zen 4 of BENCHMARKS.md (measured peak ~226 GFLOP/s,
    /// 2026-12-01) train-step's tiny GPT ran 4,754 tokens/s × 3.49e7 FLOPs = 1.66e11 FLOP/s and the quickstart's model
    /// 18.9k tokens/s × 8.6e6 = 1.63e11, both ~72 %; 0.6 leaves room for the validation, samples and checkpoints of a run.
    /// </summary>
    public const double DefaultCpuMfu = 0.6;

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A training config (JSON) to start from; default: lmforge train's defaults" };
        var set = new Option<string[]>("--set") { Description = "Override a setting, e.g. --set layers=12 --set embedding-size=768 --set architecture=llama (repeatable)", AllowMultipleArgumentsPerToken = false };
        var tokens = new Option<string>("--tokens") { Description = "Training tokens D, with an optional suffix K, M, B or T (e.g. 10B)", Required = true };
        var batchSize = new Option<int?>("--batch-size") { Description = "Sequences per micro-batch for the activation memory (default: the config's microBatchSize)" };
        var gpu = new Option<string?>("--gpu") { Description = $"Estimate the time on this GPU only ({string.Join(", ", GpuPeaks.All.Select(g => g.Key))}); default: all of them" };
        var mfu = new Option<double>("--mfu") { Description = "The fraction of a GPU's dense BF16 peak training reaches", DefaultValueFactory = _ => 0.4 };
        var cpuMfu = new Option<double>("--cpu-mfu") { Description = "The fraction of this machine's measured peak training reaches", DefaultValueFactory = _ => DefaultCpuMfu };
        var command = new Command("plan", "What training a model on D tokens takes: parameters, FLOPs, memory, the compute-optimal token count and the wall time here and on GPUs.")
        {
            config, set, tokens, batchSize, gpu, mfu, cpuMfu,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var baseConfig = parse.GetValue(config) is { } path ? TrainingConfig.Load(path) : new TrainingConfig();
            var overrides = new List<string>(parse.GetValue(set) ?? []);
            if (parse.GetValue(batchSize) is { } b) overrides.Add($"micro-batch-size={b}");
            var trainingConfig = baseConfig.WithOverrides(Completed(baseConfig, overrides));
            long d = TrainingPlan.ParseTokens(parse.GetValue(tokens)!);
            var plan = TrainingPlan.Create(trainingConfig, d);
            double gpuMfu = parse.GetValue(mfu), hereMfu = parse.GetValue(cpuMfu);
            if (!(gpuMfu > 0 && gpuMfu <= 1)) throw new ArgumentException($"--mfu {gpuMfu.ToString(CultureInfo.InvariantCulture)}: expected a fraction in (0, 1], e.g. 0.4");
            if (!(hereMfu > 0 && hereMfu <= 1)) throw new ArgumentException($"--cpu-mfu {hereMfu.ToString(CultureInfo.InvariantCulture)}: expected a fraction in (0, 1], e.g. 0.2");
            var gpus = parse.GetValue(gpu) is { } name ? [GpuPeaks.Find(name)] : GpuPeaks.All;
            Print(Console.Out, plan, MachinePeak.Get(trainingConfig.PeakGflops), hereMfu, hereMfu == DefaultCpuMfu, gpus, gpuMfu, TrainingPlan.MachineMemory());
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The overrides with what a plan implies and a run would have to say: architecture=bert or t5 without an objective
    /// gets the one it needs (masked, span); without total-batch-tokens, one micro-batch per step (the plan does not
    /// depend on it, and a new context length or batch size would otherwise leave the config's invalid).
    /// </summary>
    internal static IReadOnlyList<string> Completed(TrainingConfig baseConfig, IReadOnlyList<string> overrides)
    {
        static string Name(string assignment) => assignment.Split('=')[0].Trim().Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        string? Value(string name) => overrides.LastOrDefault(o => o.Contains('=', StringComparison.Ordinal) && Name(o) == name)?.Split('=', 2)[1].Trim();
        var completed = new List<string>(overrides);
        if (Value("objective") is null)
        {
            if (Value("architecture") == TransformerFamilies.Bert) completed.Add($"objective={TrainingObjectives.Masked}");
            if (Value("architecture") == TransformerFamilies.T5) completed.Add($"objective={TrainingObjectives.Span}");
        }
        if (Value("totalbatchtokens") is null)
        {
            long t = long.TryParse(Value("contextlength"), CultureInfo.InvariantCulture, out long context) ? context : baseConfig.ContextLength;
            long b = long.TryParse(Value("microbatchsize"), CultureInfo.InvariantCulture, out long micro) ? micro : baseConfig.MicroBatchSize;
            if (t * b != baseConfig.TotalBatchTokens && t > 0 && b > 0 && t * b <= int.MaxValue) completed.Insert(0, $"total-batch-tokens={t * b}");
        }
        return completed;
    }

    internal static void Print(TextWriter output, TrainingPlan plan, MachinePeak peak, double cpuMfu, bool defaultCpuMfu, IReadOnlyList<GpuPeak> gpus, double gpuMfu,
        (long Total, long Available)? memory)
    {
        var config = plan.Config;
        var model = plan.Model;
        void Line(FormattableString text) => output.WriteLine(text.ToString(CultureInfo.InvariantCulture));
        string layers = model.IsEncoderDecoder ? $"{model.LayerCount}+{model.DecoderLayerCount}" : $"{model.LayerCount}";
        string kv = model.KeyValueHeadCount == model.HeadCount ? "" : $" ({model.KeyValueHeadCount} kv)";
        Line($"model        {model.Family}: {layers} layers, width {model.Width}, {model.HeadCount} heads{kv}, MLP {model.IntermediateSize}{(model.GatedMlp ? " gated" : "")}, context {model.ContextLength}, vocabulary {model.VocabSize}{(model.PaddedVocabSize != model.VocabSize ? $" (padded to {model.PaddedVocabSize})" : "")}");
        Line($"parameters   {plan.Parameters:N0} ({ModelCard.FormatCount(plan.Parameters)})");
        string perToken = model.IsEncoderDecoder ? $" per input token ({plan.TargetLength} targets per {config.ContextLength} inputs)" : " per token";
        Line($"compute      {plan.TotalFlops:E2} FLOPs for {ModelCard.FormatCount(plan.Tokens)} tokens ({plan.FlopsPerToken:E3}{perToken}: 6 per multiplying parameter plus attention)");
        Line($"memory       {TrainingPlan.FormatBytes(plan.TotalBytes)}: weights {TrainingPlan.FormatBytes(plan.WeightBytes)}, gradients {TrainingPlan.FormatBytes(plan.GradientBytes)}, AdamW state {TrainingPlan.FormatBytes(plan.OptimizerBytes)} (fp32), activations {TrainingPlan.FormatBytes(plan.ActivationBytes)} at batch {plan.BatchSize}x{config.ContextLength}");
        double ratio = (double)plan.Tokens / plan.ComputeOptimalTokens;
        string verdict = ratio switch
        {
            < 0.8 => $"{1 / ratio:0.#}x fewer tokens than compute-optimal: a smaller model would reach a lower loss with this compute",
            > 1.25 => $"{ratio:0.#}x more tokens than compute-optimal: past Chinchilla, as small models meant for cheap inference are",
            _ => "about compute-optimal",
        };
        Line($"Chinchilla   {ModelCard.FormatCount(plan.ComputeOptimalTokens)} tokens is compute-optimal (~{TrainingPlan.TokensPerParameter:F0} per parameter); D is {verdict}");
        double hereRate = peak.FlopsPerSecond * cpuMfu;
        Line($"here         {ModelCard.FormatDuration(plan.Seconds(hereRate))} at {cpuMfu:P0} MFU{(defaultCpuMfu ? " (--cpu-mfu; training steps reach ~72 % here, BENCHMARKS.md)" : "")} of the peak ({peak.Description}) = {hereRate / 1e9:F0} GFLOP/s");
        if (memory is { } machine && plan.TotalBytes > machine.Available)
        {
            Line($"warning      training needs {TrainingPlan.FormatBytes(plan.TotalBytes)} but this machine has {TrainingPlan.FormatBytes(machine.Available)} available of {TrainingPlan.FormatBytes(machine.Total)} (/proc/meminfo): it does not fit here{(plan.ActivationBytes > plan.TotalBytes / 2 ? "; a smaller --batch-size shrinks the activations" : "")}");
        }
        output.WriteLine();
        Line($"| GPU | dense BF16 peak | at {gpuMfu:P0} MFU | time on one | memory |");
        output.WriteLine("|---|---:|---:|---:|---|");
        foreach (var g in gpus)
        {
            string fits = plan.TotalBytes <= g.MemoryBytes ? $"fits in {TrainingPlan.FormatBytes(g.MemoryBytes)}" : $"needs {TrainingPlan.FormatBytes(plan.TotalBytes)} > {TrainingPlan.FormatBytes(g.MemoryBytes)}: shard or use several";
            Line($"| {g.Name} | {g.FlopsPerSecond / 1e12:F0} TFLOP/s | {g.FlopsPerSecond * gpuMfu / 1e12:F0} TFLOP/s | {ModelCard.FormatDuration(plan.Seconds(g.FlopsPerSecond * gpuMfu))} | {fits} (fp32 state) |");
        }
    }
}
