using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LmForge.Tokenization;

namespace LmForge.Bench;

// tokenizer-encode: single-thread encode throughput of LmForge's BpeTokenizer and of tiktoken (npm, WASM build of
// OpenAI's Rust core, run by node) on the same multi-MB real English corpus (npm nlp-corpus), gpt2 / cl100k_base /
// o200k_base; prints MB/s, the ratio, and whether every id is identical.
//   dotnet run -c Release --project bench/LmForge.Bench -- tokenizer-encode [--runs 3] [--encodings gpt2,cl100k_base,o200k_base]
internal static class TokenizerEncodeBenchmark
{
    public static int Run(string[] args)
    {
        int runs = 3;
        string[] encodings = ["gpt2", "cl100k_base", "o200k_base"];
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--runs" && i + 1 < args.Length) runs = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (args[i] == "--encodings" && i + 1 < args.Length) encodings = args[++i].Split(',');
            else
            {
                Console.Error.WriteLine($"tokenizer-encode: unknown option '{args[i]}' (expected --runs N, --encodings a,b)");
                return 2;
            }
        }
        string oracles = FindOracles();
        if (!Directory.Exists(Path.Combine(oracles, "node_modules", "tiktoken")))
        {
            Console.Error.WriteLine($"tokenizer-encode: tiktoken is not installed: run `npm ci` in {oracles}");
            return 1;
        }
        string work = Path.Combine(Path.GetTempPath(), $"lmforge-bench-tokenizer-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            Node(oracles, "tiktoken-oracle.mjs", "ranks", work);
            string corpusFile = Path.Combine(work, "english.txt");
            Node(oracles, "tiktoken-oracle.mjs", "english", corpusFile);
            string text = File.ReadAllText(corpusFile, Encoding.UTF8);
            double megabytes = new FileInfo(corpusFile).Length / 1e6;
            Console.WriteLine($"corpus: nlp-corpus (npm), {megabytes:F1} MB of English, single thread, best of {runs} runs after a warm-up, each side");
            Console.WriteLine("MB/s per CPU second (process CPU time: robust to a shared machine's time slicing); wall-clock MB/s beside it");
            Console.WriteLine($"| encoding | tokens | LmForge MB/s (CPU) | tiktoken WASM MB/s (CPU) | ratio (CPU) | wall: LmForge / tiktoken | ids identical | load ms |");
            Console.WriteLine($"|---|---:|---:|---:|---:|---:|---|---:|");
            bool allIdentical = true;
            foreach (string encoding in encodings)
            {
                var load = Stopwatch.StartNew();
                string ranks = Path.Combine(work, encoding + ".tiktoken");
                var tokenizer = encoding switch
                {
                    "gpt2" => BpeTokenizer.Gpt2(ranks),
                    "cl100k_base" => BpeTokenizer.Cl100k(ranks),
                    "o200k_base" => BpeTokenizer.O200k(ranks),
                    _ => throw new ArgumentException($"unknown encoding '{encoding}'"),
                };
                double loadMs = load.Elapsed.TotalMilliseconds;
                tokenizer.EncodeOrdinary(text); // warm up (tiered JIT, caches)
                double best = double.MaxValue, bestCpu = double.MaxValue;
                int[] ours = [];
                using var self = Process.GetCurrentProcess();
                for (int r = 0; r < runs; r++)
                {
                    self.Refresh();
                    var cpuStart = self.TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    ours = tokenizer.EncodeOrdinary(text);
                    best = Math.Min(best, watch.Elapsed.TotalSeconds);
                    self.Refresh();
                    bestCpu = Math.Min(bestCpu, (self.TotalProcessorTime - cpuStart).TotalSeconds);
                }
                string idsFile = Path.Combine(work, encoding + ".ids");
                string json = Node(oracles, "tiktoken-oracle.mjs", "bench", corpusFile, encoding, idsFile, runs.ToString(System.Globalization.CultureInfo.InvariantCulture));
                using var result = JsonDocument.Parse(json);
                double theirSeconds = result.RootElement.GetProperty("seconds").GetDouble();
                double theirCpuSeconds = result.RootElement.GetProperty("cpuSeconds").GetDouble();
                int[] theirs = ReadIds(idsFile);
                bool identical = ours.AsSpan().SequenceEqual(theirs);
                allIdentical &= identical;
                double oursMBs = megabytes / best, theirsMBs = megabytes / theirSeconds;
                double oursCpuMBs = megabytes / bestCpu, theirsCpuMBs = megabytes / theirCpuSeconds;
                Console.WriteLine($"| {encoding} | {ours.Length:N0} | {oursCpuMBs:F1} | {theirsCpuMBs:F2} | {oursCpuMBs / theirsCpuMBs:F1}x | " +
                                  $"{oursMBs:F1} / {theirsMBs:F2} = {oursMBs / theirsMBs:F1}x | {(identical ? "yes" : "NO")} | {loadMs:F0} |");
            }
            return allIdentical ? 0 : 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static int[] ReadIds(string file)
    {
        using var reader = new BinaryReader(File.OpenRead(file));
        var ids = new int[reader.ReadInt32()];
        for (int i = 0; i < ids.Length; i++) ids[i] = reader.ReadInt32();
        return ids;
    }

    private static string FindOracles()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "oracles");
                if (File.Exists(Path.Combine(candidate, "tiktoken-oracle.mjs"))) return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/oracles/tiktoken-oracle.mjs not found above the current directory");
    }

    private static string Node(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"node {string.Join(' ', arguments)} failed ({process.ExitCode}): {errors.Result}");
        return output;
    }
}
