namespace LmForge.Bench;

// Usage: dotnet run -c Release --project bench/LmForge.Bench -- <suite> [options]
// Each suite measures LmForge beside a peer (OpenBLAS, PyTorch, tiktoken) in the same run and prints ratios.
public static class Program
{
    public static int Main(string[] args)
    {
        var suites = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
        {
            ["gemm"] = GemmBenchmark.Run,
            ["attention"] = AttentionBenchmark.Run,
            ["train-step"] = TrainStepBenchmark.Run,
            ["train-mpi"] = TrainMpiBenchmark.Run,
            ["generate"] = GenerateBenchmark.Run,
            ["serve"] = ServeBenchmark.Run,
            ["tokenizer-encode"] = TokenizerEncodeBenchmark.Run,
            ["tokenizer-train"] = Tokenization.TokenizerTrainBench.Run,
            ["tokenize"] = Tokenization.TokenizeBench.Run,
            ["data"] = DataBenchmark.Run,
            ["dedup"] = DedupBenchmark.Run,
            ["crash-train"] = CrashTrainBenchmark.Run,
            ["fuzz"] = FuzzBenchmark.Run,
        };
        if (args.Length == 0 || !suites.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"usage: LmForge.Bench <{string.Join('|', suites.Keys)}> [options]");
            return 2;
        }
        return run(args[1..]);
    }
}
