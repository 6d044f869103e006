using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LmForge.Inference;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;

namespace LmForge.Bench;

/// <summary>
/// The `generate` suite: KV-cached greedy generation through an <see cref="InferenceSession"/> (random weights, token
/// ids only), beside PyTorch CPU doing the same with its KV cache (bench/peers/torch_generate.py, 2 threads,
/// OMP_WAIT_POLICY=PASSIVE) in the same invocation:
/// batch-1 decode after a 1-token prompt; a long prompt's prefill tokens/s and the decode after it; aggregate decode
/// tokens/s at several batch sizes; and the memory-bandwidth bound of batch-1 decode (bytes read per token — the
/// weights and the cached keys/values attended to — over this machine's read bandwidth, measured here).
/// Usage: generate [gpt2|tiny|all] [--new-tokens N] [--prompt P] [--batches 1,8,32,64] [--rounds R] [--no-peer]
/// </summary>
public static class GenerateBenchmark
{
    private sealed record Case(string Name, TransformerConfig Config);

    private static readonly Case[] Cases =
    [
        new("gpt2", TransformerConfig.Gpt2Small),
        // the train-step suite's tiny GPT with a context long enough for the 512-token prompt and its continuation
        new("tiny", TransformerConfig.Gpt2(8192, 1024, 4, 4, 256)),
    ];

    public static int Run(string[] args)
    {
        string which = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        int newTokens = TrainStepBenchmark.IntOption(args, "--new-tokens") ?? 256;
        int promptTokens = TrainStepBenchmark.IntOption(args, "--prompt") ?? 512;
        int rounds = Math.Max(1, TrainStepBenchmark.IntOption(args, "--rounds") ?? 1);
        int[] batches = Option(args, "--batches")?.Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray() ?? [1, 8, 32, 64];
        bool peer = !args.Contains("--no-peer");
        var cases = Cases.Where(c => which == "all" || c.Name == which).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"generate: unknown case '{which}', expected {string.Join(", ", Cases.Select(c => c.Name))} or all");
            return 2;
        }
        double bandwidth;
        using (var probe = new GemmBenchmark.ReadBandwidthProbe()) bandwidth = probe.Fastest(WorkerPool.Shared).Whole; // 1 GiB on every worker, fastest pass
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"generate: {Environment.ProcessorCount} cores, {WorkerPool.Shared.WorkerCount} workers, {CpuBackend.Shared.Name}; measured read bandwidth {bandwidth:F1} GB/s; peer: PyTorch {(peer ? "(2 threads)" : "skipped")}"));
        foreach (var benchCase in cases)
        {
            using var model = new TransformerModel(benchCase.Config, trainable: false);
            model.InitializeWeights(seed: 20230828);
            Measurement? best = null;
            PeerMeasurement? bestPeer = null;
            for (int round = 0; round < rounds; round++)
            {
                var ours = Measure(model, newTokens, promptTokens, batches);
                var theirs = peer ? MeasurePyTorch(benchCase, newTokens, promptTokens) : null;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{benchCase.Name}] round {round + 1}: decode {ours.Decode1:F1} tokens/s, prefill {ours.Prefill:F0} tokens/s, decode after prefill {ours.DecodeAfterPrefill:F1} tokens/s; PyTorch {(theirs is null ? "n/a" : $"{theirs.Decode1:F1}, {theirs.Prefill:F0}, {theirs.DecodeAfterPrefill:F1}")}"));
                best = best is null || ours.Decode1 > best.Decode1 ? ours : best;
                if (theirs is not null && (bestPeer is null || theirs.Decode1 > bestPeer.Decode1)) bestPeer = theirs;
            }
            Print(benchCase, model, best!, bestPeer, bandwidth, newTokens, promptTokens);
        }
        return 0;
    }

    private sealed record Measurement(double Decode1, double Prefill, double DecodeAfterPrefill, (int Batch, double TokensPerSecond)[] Aggregate);

    private sealed record PeerMeasurement(double Decode1, double Prefill, double DecodeAfterPrefill);

    private static Measurement Measure(TransformerModel model, int newTokens, int promptTokens, int[] batches)
    {
        var greedy = new SamplingOptions(Temperature: 0, MaxTokens: newTokens + 1);
        int v = model.Config.VocabSize;
        // warm-up of every path timed below (the JIT tiers a method up after ~30 calls; a prefill calls each linear once)
        Decode(model, 1, 1, Math.Min(32, newTokens), greedy, v);
        for (int i = 0; i < 3; i++) PrefillThenDecode(model, promptTokens, 4, greedy, v);
        Decode(model, batches.Max(), 1, 8, greedy, v);
        double decode1 = Decode(model, 1, 1, newTokens, greedy, v);
        var (prefill, decodeAfter) = PrefillThenDecode(model, promptTokens, newTokens, greedy, v);
        var aggregate = batches.Select(b => (b, Decode(model, b, 1, Math.Min(newTokens, 64), greedy, v))).ToArray();
        return new Measurement(decode1, prefill, decodeAfter, aggregate);
    }

    // batch sequences of promptLength tokens prefilled together (untimed), then steps decode steps of all of them
    private static double Decode(TransformerModel model, int batch, int promptLength, int steps, SamplingOptions options, int vocabulary)
    {
        using var session = new InferenceSession(model, tokenizer: null, maxSequences: batch);
        for (int i = 0; i < batch; i++) session.Add(Enumerable.Range(0, promptLength).Select(t => ((i * 7919) + t) % vocabulary).ToArray(), options);
        session.Step();
        long start = Stopwatch.GetTimestamp();
        for (int s = 0; s < steps; s++) session.Step();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return batch * steps / seconds;
    }

    private static (double Prefill, double Decode) PrefillThenDecode(TransformerModel model, int promptLength, int steps, SamplingOptions options, int vocabulary)
    {
        using var session = new InferenceSession(model, tokenizer: null);
        session.Add(Enumerable.Range(0, promptLength).Select(t => (t * 31) % vocabulary).ToArray(), options);
        long start = Stopwatch.GetTimestamp();
        session.Step();
        double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        for (int s = 0; s < steps; s++) session.Step();
        double decodeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (promptLength / prefillSeconds, steps / decodeSeconds);
    }

    private static void Print(Case benchCase, TransformerModel model, Measurement ours, PeerMeasurement? theirs, double bandwidth, int newTokens, int promptTokens)
    {
        var config = model.Config;
        // bytes read per batch-1 decode token: every weight but the embedding tables' unused rows (one row of the token
        // table unless it is also the head, one row of the position table), plus the keys and values attended to
        // (half the generated length on average after a 1-token prompt)
        long weights = model.ParameterCount;
        if (config.Positions == PositionKind.Learned) weights -= (long)(config.ContextLength - 1) * config.Width;
        if (!config.TiedEmbeddings) weights -= (long)(config.PaddedVocabSize - 1) * config.Width;
        long kvBytesPerToken = 2L * config.LayerCount * config.KeyValueHeadCount * config.HeadSize * sizeof(float);
        double bytesPerToken = (4.0 * weights) + (kvBytesPerToken * (1 + newTokens) / 2.0);
        double bound = bandwidth * 1e9 / bytesPerToken;
        string Ratio(double a, double? b) => b is > 0 ? string.Create(CultureInfo.InvariantCulture, $"{a / b.Value:F2}x") : "n/a";
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{benchCase.Name}] {config.Summary}; {model.ParameterCount / 1e6:F1}M parameters; {bytesPerToken / 1e6:F1} MB read per decoded token → bandwidth bound {bound:F1} tokens/s at {bandwidth:F1} GB/s"));
        Console.WriteLine("| measurement | LmForge | PyTorch | LmForge / PyTorch | LmForge / bound |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| batch-1 decode, 1-token prompt, {newTokens} new (tokens/s) | {ours.Decode1:F1} | {theirs?.Decode1:F1} | {Ratio(ours.Decode1, theirs?.Decode1)} | {ours.Decode1 / bound:P0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| prefill of {promptTokens} tokens (tokens/s) | {ours.Prefill:F0} | {theirs?.Prefill:F0} | {Ratio(ours.Prefill, theirs?.Prefill)} | |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| decode after the {promptTokens}-token prompt (tokens/s) | {ours.DecodeAfterPrefill:F1} | {theirs?.DecodeAfterPrefill:F1} | {Ratio(ours.DecodeAfterPrefill, theirs?.DecodeAfterPrefill)} | |"));
        double single = ours.Aggregate.FirstOrDefault(a => a.Batch == 1).TokensPerSecond;
        foreach (var (batch, tokensPerSecond) in ours.Aggregate)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| aggregate decode at batch {batch} (tokens/s) | {tokensPerSecond:F1} | | | {(single > 0 ? $"{tokensPerSecond / single:F1}x batch 1" : "")} |"));
        }
    }

    private static PeerMeasurement? MeasurePyTorch(Case benchCase, int newTokens, int promptTokens)
    {
        var config = benchCase.Config;
        var arguments = new List<string>
        {
            Path.Combine(TrainStepBenchmark.RepositoryRoot(), "bench", "peers", "torch_generate.py"), "--family", config.Family,
            "--vocab", $"{config.VocabSize}", "--context", $"{config.ContextLength}", "--layers", $"{config.LayerCount}", "--heads", $"{config.HeadCount}",
            "--width", $"{config.Width}", "--new-tokens", $"{newTokens}", "--prompt", $"{promptTokens}", "--threads", "2",
        };
        if (config.Family == TransformerFamilies.Llama)
            arguments.AddRange(["--kv-heads", $"{config.KeyValueHeadCount}", "--intermediate", $"{config.IntermediateSize}"]);
        var start = new ProcessStartInfo("/usr/bin/python3", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["OMP_NUM_THREADS"] = "2";
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
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
            using var document = JsonDocument.Parse(stdout.Trim().Split('\n').Last());
            var root = document.RootElement;
            return new PeerMeasurement(root.GetProperty("decode1_tokens_per_s").GetDouble(), root.GetProperty("prefill_tokens_per_s").GetDouble(),
                root.GetProperty("decode_after_prefill_tokens_per_s").GetDouble());
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"[{benchCase.Name}] PyTorch peer unavailable: {e.Message}");
            return null;
        }
    }

    private static string? Option(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
