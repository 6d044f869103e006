using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Bench;

/// <summary>
/// The `train-step` suite: tokens per second of one full training step (forward, loss, backward, clip, AdamW) on
/// random tokens, for LmForge and for PyTorch (bench/peers/torch_train_step.py for GPT-2, torch_hf_train_step.py
/// for the Llama-style decoder and the BERT-style encoder, the same model code as the correctness fixtures, 2 threads) measured one after the
/// other in the same invocation. Prints ms/step, tokens/s, an estimated
/// MFU (TrainingFlops.PerToken · tokens/s, the trainer's count, over the machine's peak: MachinePeak, measured by an FMA
/// probe and cached, or stated with LMFORGE_PEAK_GFLOPS; clamped to 100 %, flagged when it would exceed it) and the ratio LmForge / PyTorch. With --rounds R the two are
/// measured alternately R times and the best round of each is kept, so a burst of load on a shared machine does not
/// land on one side only.
/// With --packed N each round also measures fine-tuning's step: rows packed with documents of N tokens (attention and
/// positions restart at each) and a third of the targets −1 (the prompts), beside the plain step in the same run.
/// Usage: train-step [tiny|gpt2|quickstart|llama-tiny|bert-tiny|t5-tiny|all] [--steps N] [--warmup N] [--rounds R] [--profile] [--no-peer] [--packed N]
/// </summary>
public static class TrainStepBenchmark
{
    /// <summary>The machine's FP32 peak, the MFU's denominator: measured (cached per machine and instruction set) or stated.</summary>
    private static readonly Lazy<MachinePeak> Peak = new(() => MachinePeak.Get());

    /// <param name="TargetLength">An encoder-decoder's target length (its SequenceLength is the input's); 0 for a single stack.</param>
    private sealed record Case(string Name, TransformerConfig Config, int BatchSize, int SequenceLength, int DefaultSteps, int TargetLength = 0);

    private static readonly Case[] Cases =
    [
        new("tiny", TransformerConfig.Gpt2(8192, 256, 4, 4, 256), 8, 256, 5),
        new("gpt2", TransformerConfig.Gpt2Small, 4, 64, 3),
        new("quickstart", TransformerConfig.Gpt2(4096, 128, 4, 4, 128), 8, 128, 20),
        // A Llama-style decoder with the tiny GPT's parameter count (5.33M vs 5.32M): its untied head doubles the
        // vocabulary tables, so it has 2 layers with 2 key/value heads and a SwiGLU width of 480.
        new("llama-tiny", TransformerConfig.Llama(8192, 256, layerCount: 2, headCount: 4, keyValueHeadCount: 2, width: 256, intermediateSize: 480), 8, 256, 5),
        // A BERT-style encoder of the tiny GPT's shape (4 layers, width 256, MLP 1024): bidirectional, post-norm, the
        // masked-LM head; both sides take the loss at every position (the masked objective's compute is the same)
        new("bert-tiny", TransformerConfig.Bert(8192, 256, layerCount: 4, headCount: 4, width: 256, intermediateSize: 1024), 8, 256, 5),
        // A T5-style encoder-decoder of the tiny GPT's width (2 encoder + 2 decoder layers, relu MLP 1024, tied head), on
        // span corruption's shapes: 256 input tokens (from 284 raw ones) and 59 target tokens; tokens/s counts the inputs
        new("t5-tiny", TransformerConfig.T5(8192, 256, layerCount: 2, decoderLayerCount: 2, headCount: 4, width: 256, intermediateSize: 1024), 8, 256, 5, TargetLength: 59),
    ];

    public static int Run(string[] args)
    {
        string which = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        int? steps = IntOption(args, "--steps");
        int warmup = IntOption(args, "--warmup") ?? 1;
        int rounds = Math.Max(1, IntOption(args, "--rounds") ?? 1);
        bool profile = args.Contains("--profile");
        bool peer = !args.Contains("--no-peer");
        int? packed = IntOption(args, "--packed");
        var cases = Cases.Where(c => which == "all" || c.Name == which).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"train-step: unknown case '{which}', expected {string.Join(", ", Cases.Select(c => c.Name))} or all");
            return 2;
        }

        Console.WriteLine($"train-step: {Environment.ProcessorCount} cores, {WorkerPool.Shared.WorkerCount} workers; peer: PyTorch {(peer ? "(2 threads)" : "skipped")}; MFU over the peak: {Peak.Value.Description}");
        var rows = new List<string>();
        foreach (var benchCase in cases)
        {
            int n = steps ?? benchCase.DefaultSteps;
            Measurement? ours = null, theirs = null, packedBest = null;
            for (int round = 0; round < rounds; round++)
            {
                var oursNow = MeasureLmForge(benchCase, n, warmup, profile && round == 0);
                if (packed is { } documentLength)
                {
                    var packedNow = MeasureLmForge(benchCase, n, warmup, profile: false, documentLength);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{benchCase.Name}] round {round + 1}: packed documents of {documentLength} tokens: {packedNow.TokensPerSecond:F0} tokens/s = {packedNow.TokensPerSecond / oursNow.TokensPerSecond:F2}x the plain step's {oursNow.TokensPerSecond:F0}"));
                    if (packedBest is null || packedNow.TokensPerSecond > packedBest.TokensPerSecond) packedBest = packedNow;
                }
                var theirsNow = peer ? MeasurePyTorch(benchCase, n, warmup) : null;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{benchCase.Name}] round {round + 1}: LmForge {oursNow.TokensPerSecond:F0} tokens/s (loss {oursNow.FirstLoss:F3} → {oursNow.LastLoss:F3}), PyTorch {(theirsNow is null ? "n/a" : $"{theirsNow.TokensPerSecond:F0} tokens/s (loss {theirsNow.FirstLoss:F3} → {theirsNow.LastLoss:F3})")}"));
                if (ours is null || oursNow.TokensPerSecond > ours.TokensPerSecond) ours = oursNow;
                if (theirsNow != null && (theirs is null || theirsNow.TokensPerSecond > theirs.TokensPerSecond)) theirs = theirsNow;
            }
            rows.Add(FormatRow(benchCase, ours!, theirs));
            if (packedBest is not null) rows.Add(FormatRow(benchCase with { Name = $"{benchCase.Name}, packed {packed}" }, packedBest, null));
        }

        Console.WriteLine();
        Console.WriteLine("| config | batch | params | LmForge ms/step | LmForge tokens/s | LmForge MFU | PyTorch ms/step | PyTorch tokens/s | PyTorch MFU | LmForge / PyTorch |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (string row in rows) Console.WriteLine(row);
        return 0;
    }

    private sealed record Measurement(double MillisecondsPerStep, double TokensPerSecond, long Parameters, float FirstLoss, float LastLoss);

    // LmForge warms up for at least its warm-up steps and WarmUpSeconds: .NET compiles code quickly first and optimizes what
    // runs often a little later, and a process's first seconds run some of the quick code (measured 2026-12-02: the
    // quickstart's 20 timed steps after 1 warm-up step read 10.7-11.8K tokens/s, after 20 warm-up steps 14.8-15.0K).
    // The PyTorch peers have no such phase; they keep their warm-up steps.
    internal const double WarmUpSeconds = 3;

    private static string WarmUpText(int warmup) => $"{warmup}+ warm-up steps (at least {WarmUpSeconds:F0} s)";

    // Runs step until it has run `steps` times and WarmUpSeconds have passed; returns the last step's loss.
    private static float WarmUp(int steps, Func<float> step)
    {
        var clock = Stopwatch.StartNew();
        float loss = 0;
        for (int i = 0; i < steps || clock.Elapsed.TotalSeconds < WarmUpSeconds; i++) loss = step();
        return loss;
    }

    private static Measurement MeasureLmForge(Case benchCase, int steps, int warmup, bool profile, int? documentLength = null)
    {
        if (benchCase.Config.IsEncoderDecoder) return MeasureEncoderDecoder(benchCase, steps, warmup, profile);
        var config = benchCase.Config;
        int b = benchCase.BatchSize, t = benchCase.SequenceLength;
        var profiler = profile ? new ProfilingBackend(CpuBackend.Shared) : null;
        using var model = new TransformerModel(config, profiler);
        model.InitializeWeights(seed: 20230828);
        using var optimizer = model.CreateOptimizer(new AdamWSettings(Beta1: 0.9f, Beta2: 0.95f, Epsilon: 1e-8f, WeightDecay: 0.1f));
        var random = new Random(20230828);
        var sequence = new int[b * (t + 1)];
        for (int i = 0; i < sequence.Length; i++) sequence[i] = random.Next(config.VocabSize);
        var tokens = new int[b * t];
        var targets = new int[b * t];
        for (int row = 0; row < b; row++)
        {
            Array.Copy(sequence, row * (t + 1), tokens, row * t, t);
            Array.Copy(sequence, (row * (t + 1)) + 1, targets, row * t, t);
        }

        int[] starts = [];
        if (documentLength is { } length)
        {
            // fine-tuning's rows: documents of `length` tokens, the first third of each (its prompt) without a target
            starts = new int[b * t];
            for (int i = 0; i < starts.Length; i++)
            {
                int position = i % t;
                starts[i] = position - (position % length);
                if (position - starts[i] < length / 3) targets[i] = -1;
            }
        }

        Console.WriteLine($"[{benchCase.Name}] LmForge: {model.ParameterCount:N0} parameters, batch {b}×{t}{(documentLength is null ? "" : $" packed with documents of {documentLength}")}, {WarmUpText(warmup)} + {steps} timed steps");
        float first = WarmUp(warmup, () => model.TrainStep(tokens, targets, b, t, optimizer, 3e-4f, 1f, starts).Loss);
        profiler?.Reset();
        var stopwatch = Stopwatch.StartNew();
        float last = 0;
        for (int i = 0; i < steps; i++) last = model.TrainStep(tokens, targets, b, t, optimizer, 3e-4f, 1f, starts).Loss;
        stopwatch.Stop();
        double seconds = stopwatch.Elapsed.TotalSeconds;
        if (profiler != null) PrintProfile(profiler, seconds, steps);
        return new Measurement(1000 * seconds / steps, (double)b * t * steps / seconds, model.ParameterCount, first, last);
    }

    private static Measurement MeasureEncoderDecoder(Case benchCase, int steps, int warmup, bool profile)
    {
        var config = benchCase.Config;
        int b = benchCase.BatchSize, te = benchCase.SequenceLength, td = benchCase.TargetLength;
        var profiler = profile ? new ProfilingBackend(CpuBackend.Shared) : null;
        using var model = new EncoderDecoderModel(config, profiler);
        model.InitializeWeights(seed: 20230828);
        using var optimizer = model.CreateOptimizer(new AdamWSettings(Beta1: 0.9f, Beta2: 0.95f, Epsilon: 1e-8f, WeightDecay: 0.1f));
        var random = new Random(20230828);
        int[] inputs = [.. Enumerable.Range(0, b * te).Select(_ => random.Next(config.VocabSize))];
        int[] targets = [.. Enumerable.Range(0, b * td).Select(_ => random.Next(config.VocabSize))];
        Console.WriteLine($"[{benchCase.Name}] LmForge: {model.ParameterCount:N0} parameters, batch {b}×{te} inputs and {b}×{td} targets, {WarmUpText(warmup)} + {steps} timed steps");
        float first = WarmUp(warmup, () => model.TrainStep(inputs, targets, b, te, optimizer, 3e-4f, 1f).Loss);
        profiler?.Reset();
        var stopwatch = Stopwatch.StartNew();
        float last = 0;
        for (int i = 0; i < steps; i++) last = model.TrainStep(inputs, targets, b, te, optimizer, 3e-4f, 1f).Loss;
        stopwatch.Stop();
        double seconds = stopwatch.Elapsed.TotalSeconds;
        if (profiler != null) PrintProfile(profiler, seconds, steps);
        return new Measurement(1000 * seconds / steps, (double)b * te * steps / seconds, model.ParameterCount, first, last);
    }

    private static void PrintProfile(ProfilingBackend profiler, double seconds, int steps)
    {
        double frequency = Stopwatch.Frequency;
        double accounted = 0;
        Console.WriteLine($"  {"operation",-30} {"calls/step",10} {"ms/step",10} {"share",7} {"GFLOP/s",8}");
        foreach (var (operation, (ticks, calls, flops)) in profiler.Totals.OrderByDescending(kv => kv.Value.Ticks))
        {
            double opSeconds = ticks / frequency;
            accounted += opSeconds;
            string rate = flops > 0 ? (flops / opSeconds / 1e9).ToString("F1", CultureInfo.InvariantCulture) : "";
            Console.WriteLine($"  {operation,-30} {calls / (double)steps,10:F0} {1000 * opSeconds / steps,10:F1} {opSeconds / seconds,7:P1} {rate,8}");
        }
        Console.WriteLine($"  {"outside the backend",-30} {"",10} {1000 * (seconds - accounted) / steps,10:F1} {(seconds - accounted) / seconds,7:P1}");
    }

    private static Measurement? MeasurePyTorch(Case benchCase, int steps, int warmup)
    {
        var config = benchCase.Config;
        bool llama = config.Family == TransformerFamilies.Llama, bert = config.Family == TransformerFamilies.Bert, t5 = config.IsEncoderDecoder;
        string script = Path.Combine(RepositoryRoot(), "bench", "peers", llama || bert || t5 ? "torch_hf_train_step.py" : "torch_train_step.py");
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
                 {
                     script, "--vocab", $"{config.VocabSize}", "--context", $"{config.ContextLength}", "--layers", $"{config.LayerCount}",
                     "--heads", $"{config.HeadCount}", "--width", $"{config.Width}", "--batch", $"{benchCase.BatchSize}",
                     "--seq", $"{benchCase.SequenceLength}", "--steps", $"{steps}", "--warmup", $"{warmup}", "--threads", "2",
                 })
        {
            start.ArgumentList.Add(argument);
        }
        if (bert)
        {
            foreach (string argument in new[] { "--family", "bert", "--intermediate", $"{config.IntermediateSize}", "--layer-norm-eps", config.NormEpsilon.ToString("R", CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(argument);
        }
        if (t5)
        {
            foreach (string argument in new[]
                     {
                         "--family", "t5", "--intermediate", $"{config.IntermediateSize}", "--target-seq", $"{benchCase.TargetLength}",
                         "--decoder-layers", $"{config.DecoderLayerCount}",
                     })
            {
                start.ArgumentList.Add(argument);
            }
        }
        if (llama)
        {
            foreach (string argument in new[]
                     {
                         "--family", "llama", "--kv-heads", $"{config.KeyValueHeadCount}", "--intermediate", $"{config.IntermediateSize}",
                         "--rope-theta", config.RopeTheta.ToString(CultureInfo.InvariantCulture),
                         "--rms-norm-eps", config.NormEpsilon.ToString("R", CultureInfo.InvariantCulture),
                     })
            {
                start.ArgumentList.Add(argument);
            }
        }
        start.Environment["OMP_NUM_THREADS"] = "2";
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        Console.WriteLine($"[{benchCase.Name}] PyTorch: {start.FileName} {string.Join(' ', start.ArgumentList)}");
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine($"[{benchCase.Name}] PyTorch peer failed (exit {process.ExitCode}): {stderr.Result.Trim().Split('\n').LastOrDefault()}");
                return null;
            }
            string json = stdout.Trim().Split('\n').Last();
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            return new Measurement(root.GetProperty("ms_per_step").GetDouble(), root.GetProperty("tokens_per_s").GetDouble(),
                root.GetProperty("params").GetInt64(), (float)root.GetProperty("loss_first").GetDouble(), (float)root.GetProperty("loss_last").GetDouble());
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"[{benchCase.Name}] PyTorch peer unavailable: {e.Message}");
            return null;
        }
    }

    private static string FormatRow(Case benchCase, Measurement ours, Measurement? theirs)
    {
        var config = benchCase.Config;
        double flopsPerToken = TrainingFlops.PerToken(config, benchCase.SequenceLength, benchCase.TargetLength);
        string Mfu(Measurement m)
        {
            double mfu = flopsPerToken * m.TokensPerSecond / Peak.Value.FlopsPerSecond;
            return MachinePeak.Exceeds(mfu) ? "100 % (peak too low)" : MachinePeak.Clamp(mfu).ToString("P1", CultureInfo.InvariantCulture);
        }
        string heads = config.KeyValueHeadCount == config.HeadCount ? $"{config.HeadCount}" : $"{config.HeadCount}/{config.KeyValueHeadCount} kv";
        string layers = config.IsEncoderDecoder ? $"{config.LayerCount}+{config.DecoderLayerCount}" : $"{config.LayerCount}";
        string name = $"{benchCase.Name} (V {config.VocabSize}→{config.PaddedVocabSize}, L {layers}, H {heads}, C {config.Width}, I {config.IntermediateSize}, T {config.ContextLength})";
        string peer = theirs is null
            ? "n/a | n/a | n/a | n/a"
            : string.Create(CultureInfo.InvariantCulture, $"{theirs.MillisecondsPerStep:F0} | {theirs.TokensPerSecond:F0} | {Mfu(theirs)} | {ours.TokensPerSecond / theirs.TokensPerSecond:F2}x");
        return string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {benchCase.BatchSize}×{benchCase.SequenceLength}{(benchCase.TargetLength > 0 ? $"→{benchCase.TargetLength}" : "")} | {ours.Parameters / 1e6:F1}M | {ours.MillisecondsPerStep:F0} | {ours.TokensPerSecond:F0} | {Mfu(ours)} | {peer} |");
    }

    internal static int? IntOption(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], CultureInfo.InvariantCulture, out int value) ? value : null;
    }

    internal static string RepositoryRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory != null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) return directory.FullName;
            }
        }
        throw new InvalidOperationException($"no LmForge.slnx above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}");
    }
}
