using System.Diagnostics;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Bench;

/// <summary>
/// The `attention` suite: the training attention kernel alone (CpuBackend.AttentionForward and AttentionBackward) on
/// the shapes the train-step configs run, and on a longer context, in GFLOP/s of useful work (q·k and p·v over the
/// visible pairs: 4·hs flops per pair forward, 10·hs backward, as the train-step profile counts them) and as a share of
/// the machine's measured FMA peak, beside the GEMM's rate on a dense product of the same depth (the rate attention's
/// products could reach: "GEMM-like"). Each figure is the fastest of the timed repeats.
/// Usage: attention [tiny|gpt2|llama-tiny|bert-tiny|long|all] [--seconds S]
/// </summary>
public static class AttentionBenchmark
{
    private sealed record Case(string Name, int Batch, int Tokens, int Heads, int KeyValueHeads, int HeadSize, bool Causal);

    private static readonly Case[] Cases =
    [
        new("tiny", 8, 256, 4, 4, 64, Causal: true),
        new("gpt2", 4, 64, 12, 12, 64, Causal: true),
        new("llama-tiny", 8, 256, 4, 2, 64, Causal: true),
        new("bert-tiny", 8, 256, 4, 4, 64, Causal: false),
        new("long", 1, 2048, 4, 4, 64, Causal: true),
    ];

    public static int Run(string[] args)
    {
        string which = "all";
        double seconds = 1.0;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length) seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"attention: unknown option '{args[i]}', expected --seconds");
                return 2;
            }
            else which = args[i];
        }
        var cases = Cases.Where(c => which == "all" || c.Name == which).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"attention: unknown case '{which}', expected {string.Join(", ", Cases.Select(c => c.Name))} or all");
            return 2;
        }
        var backend = new CpuBackend();
        var peak = MachinePeak.Get(); // measured once per machine and instruction set, cached (as train-step's MFU)
        Console.WriteLine($"attention: {backend.Name}, {WorkerPool.Shared.WorkerCount} workers; CPU {MachinePeak.CpuModel()}; " +
            $"peak: {peak.Description}; fastest of the repeats in {seconds:F1} s per figure");
        Console.WriteLine("| case | B×T, heads (kv), hs | causal | forward ms | GFLOP/s | % peak | backward ms | GFLOP/s | % peak | GEMM T×T×hs GFLOP/s |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in cases) Measure(backend, c, seconds, peak.Gflops);
        return 0;
    }

    private static void Measure(CpuBackend backend, Case c, double seconds, double peak)
    {
        var layout = AttentionLayout.Fused(c.Heads, c.KeyValueHeads, c.HeadSize, c.Causal);
        var random = new Random(1);
        Tensor Random(params int[] shape)
        {
            var tensor = Tensor.Allocate(shape);
            var span = tensor.AsSpan();
            for (int i = 0; i < span.Length; i++) span[i] = (float)((random.NextDouble() * 2) - 1);
            return tensor;
        }

        using var qkv = Random(c.Batch, c.Tokens, layout.FusedWidth);
        using var outputGrad = Random(c.Batch, c.Tokens, c.Heads * c.HeadSize);
        using var output = Tensor.Allocate(c.Batch, c.Tokens, c.Heads * c.HeadSize);
        using var lse = Tensor.Allocate(c.Batch, c.Heads, c.Tokens);
        using var qkvGrad = Tensor.Allocate(qkv.Shape);
        double forward = Fastest(seconds, () => backend.AttentionForward(output, lse, qkv, qkv, layout));
        double backward = Fastest(seconds, () => backend.AttentionBackward(qkvGrad, qkvGrad, null, outputGrad, qkv, qkv, output, lse, layout));

        double pairs = (double)c.Batch * c.Heads * (c.Causal ? c.Tokens * (c.Tokens + 1) / 2.0 : (double)c.Tokens * c.Tokens);
        double forwardGflops = 4.0 * c.HeadSize * pairs / forward / 1e9;
        double backwardGflops = 10.0 * c.HeadSize * pairs / backward / 1e9;
        double gemm = GemmRate(c.Tokens, c.HeadSize, seconds);
        Console.WriteLine($"| {c.Name} | {c.Batch}×{c.Tokens}, {c.Heads} ({c.KeyValueHeads}), {c.HeadSize} | {(c.Causal ? "yes" : "no")} | " +
            $"{forward * 1e3:F2} | {forwardGflops:F1} | {100 * forwardGflops / peak:F0} % | {backward * 1e3:F2} | {backwardGflops:F1} | " +
            $"{100 * backwardGflops / peak:F0} % | {gemm:F1} |");
    }

    // A dense T×T product of depth hs on the pool (Q·Kᵀ of one head without the softmax), repeated over 8 heads' worth so
    // that it lasts as long as attention's products do.
    private static unsafe double GemmRate(int tokens, int headSize, double seconds)
    {
        using var a = Tensor.Allocate(tokens, headSize);
        using var b = Tensor.Allocate(tokens, headSize);
        using var c = Tensor.Allocate(tokens, tokens);
        a.AsSpan().Fill(0.5f);
        b.AsSpan().Fill(0.25f);
        double time = Fastest(seconds, () =>
        {
            for (int i = 0; i < 8; i++) Gemm.Multiply(false, true, tokens, tokens, headSize, a.Data, headSize, b.Data, headSize, c.Data, tokens);
        });
        return 8 * 2.0 * tokens * tokens * headSize / time / 1e9;
    }

    private static double Fastest(double seconds, Action action)
    {
        action();
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        int repeats = 0;
        while (repeats < 3 || (total.Elapsed.TotalSeconds < seconds && repeats < 1000))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
            repeats++;
        }
        return best;
    }
}
