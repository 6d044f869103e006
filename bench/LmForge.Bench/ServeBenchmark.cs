using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmForge.Inference;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;

namespace LmForge.Bench;

/// <summary>
/// The `serve` suite: `lmforge serve` in its own process on loopback, serving a small random Llama-style chat model,
/// under 1, 8, 64 and 200 concurrent streaming chat clients for a fixed time each. Per level: requests/s, time to first
/// token (p50, p99), aggregate generated tokens/s, errors, and the server's resident memory at the start and end.
/// The peer is the same model decoding in this process through an <see cref="InferenceSession"/> with no HTTP at all,
/// at batch 1 and at the server's batch size: what the server would reach if serving cost nothing.
/// Usage: serve [--seconds 60] [--clients 1,8,64,200] [--max-tokens 64] [--max-batch 64]
/// </summary>
public static class ServeBenchmark
{
    public static int Run(string[] args)
    {
        int seconds = TrainStepBenchmark.IntOption(args, "--seconds") ?? 60;
        int replyTokens = TrainStepBenchmark.IntOption(args, "--max-tokens") ?? 64;
        int maxBatch = TrainStepBenchmark.IntOption(args, "--max-batch") ?? 64;
        int index = Array.IndexOf(args, "--clients");
        int[] levels = index >= 0 && index + 1 < args.Length
            ? [.. args[index + 1].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))]
            : [1, 8, 64, 200];
        string tool = Path.Combine(TrainStepBenchmark.RepositoryRoot(), "src", "LmForge.Cli", "bin", "Release", "net10.0", "lmforge.dll");
        if (!File.Exists(tool))
        {
            Console.Error.WriteLine($"serve: {tool} is missing; build the solution in Release first (dotnet build LmForge.slnx -c Release)");
            return 2;
        }
        string checkpoint = Directory.CreateTempSubdirectory("lmforge-serve-bench-").FullName;
        try
        {
            var config = CreateCheckpoint(checkpoint);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"serve: {Environment.ProcessorCount} cores, {CpuBackend.Shared.Name}; model {config.Summary}; replies of {replyTokens} tokens (temperature 1), server batch {maxBatch}, {seconds} s per level"));
            var (engine1, engineBatch) = MeasureEngine(checkpoint, replyTokens, maxBatch);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"peer: the same model in-process with no HTTP: {engine1:F0} tokens/s at batch 1, {engineBatch:F0} tokens/s at batch {maxBatch}"));
            using var server = StartServer(tool, checkpoint, maxBatch, out var address);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                BaseAddress = address, Timeout = TimeSpan.FromMinutes(5),
            };
            RunLevel(http, server, 2, 3, replyTokens); // warm-up: JIT, connections
            var results = new List<(int Clients, Level Result)>();
            foreach (int clients in levels)
            {
                var result = RunLevel(http, server, clients, seconds, replyTokens);
                results.Add((clients, result));
                Console.WriteLine(result.Row(clients));
            }
            Console.WriteLine();
            Console.WriteLine("| clients | requests | requests/s | TTFT p50 | TTFT p99 | tokens/s | errors | server RSS start → end |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var (clients, result) in results) Console.WriteLine(result.Row(clients));
            var one = results.FirstOrDefault(r => r.Clients == 1).Result;
            var many = results.FirstOrDefault(r => r.Clients == maxBatch).Result;
            if (one is not null && many is not null)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"continuous batching: {maxBatch} clients get {many.TokensPerSecond:F0} tokens/s = {many.TokensPerSecond / one.TokensPerSecond:F1}x one client's {one.TokensPerSecond:F0}; " +
                    $"over HTTP the server reaches {one.TokensPerSecond / engine1:P0} of the in-process decode at batch 1 and {many.TokensPerSecond / engineBatch:P0} at batch {maxBatch}"));
            }
            Stop(server);
            return results.Sum(r => r.Result.Errors) == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(checkpoint, recursive: true);
        }
    }

    private sealed record Level(int Requests, int Errors, double Seconds, double TtftP50, double TtftP99, long Tokens, long RssStart, long RssEnd)
    {
        public double TokensPerSecond => Tokens / Seconds;

        public string Row(int clients) => string.Create(CultureInfo.InvariantCulture,
            $"| {clients} | {Requests} | {Requests / Seconds:F1} | {TtftP50 * 1000:F0} ms | {TtftP99 * 1000:F0} ms | {TokensPerSecond:F0} | {Errors} | {RssStart / 1048576.0:F0} → {RssEnd / 1048576.0:F0} MiB |");
    }

    // A tokenizer with the chat markers, trained on this repository's own prose and code (varied enough for a
    // 4,096-token vocabulary), and a random 4-layer Llama over it.
    private static TransformerConfig CreateCheckpoint(string directory)
    {
        string root = TrainStepBenchmark.RepositoryRoot();
        var texts = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Append(Path.Combine(root, "README.md")).Append(Path.Combine(root, "BENCHMARKS.md"))
            .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 4096, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
            .TrainOnTexts(texts);
        CheckpointTokenizer.Save(trained, directory);
        var config = TransformerConfig.Llama(trained.ToTokenizer().VocabularySize, 512, 4, 8, 2, 256);
        using var model = new TransformerModel(config, trainable: false);
        model.InitializeWeights(seed: 11);
        ModelCheckpoint.Save(model, directory);
        return config;
    }

    private static string Prompt(int request) => string.Create(CultureInfo.InvariantCulture, $"Request {request}: how does the trainer resume a run?");

    // Decoding tokens/s of the served model with no server: `batch` chat prompts at once, each to the reply length.
    private static (double One, double Batch) MeasureEngine(string checkpoint, int replyTokens, int maxBatch)
    {
        var tokenizer = CheckpointTokenizer.Load(checkpoint);
        using var model = ModelCheckpoint.Load(checkpoint, CpuBackend.Shared, trainable: false);
        var prompt = new ChatPrompt(tokenizer);
        using var session = new InferenceSession(model, tokenizer, maxBatch);
        // tokens/s of rounds of `batch` requests repeated for at least `seconds`
        double Measure(int batch, double seconds)
        {
            var watch = Stopwatch.StartNew();
            long tokens = 0;
            for (int round = 0; watch.Elapsed.TotalSeconds < seconds; round++)
            {
                for (int i = 0; i < batch; i++)
                    session.Add(prompt.Render([new("user", Prompt(i))]), new SamplingOptions(Temperature: 1, MaxTokens: replyTokens, Seed: (ulong)(round * batch + i)));
                while (session.Active.Count > 0) tokens += session.Step().Count;
            }
            return tokens / watch.Elapsed.TotalSeconds;
        }
        // warm-up at both sizes long enough for the JIT's tiering (as the server has had by its first timed level), then
        // the best of three 2-second runs
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 6;)
        {
            Measure(1, 0.5);
            Measure(maxBatch, 0.5);
        }
        double Best(int batch) => Enumerable.Range(0, 3).Max(_ => Measure(batch, 2));
        return (Best(1), Best(maxBatch));
    }

    private static Process StartServer(string tool, string checkpoint, int maxBatch, out Uri address)
    {
        var start = new ProcessStartInfo("dotnet", [tool, "serve", "--checkpoint", checkpoint, "--port", "0", "--model-name", "bench", "--max-batch", maxBatch.ToString(CultureInfo.InvariantCulture), "--queue", "1024"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"server: {e.Data}"); };
        process.BeginErrorReadLine();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            const string marker = "chat page: ";
            int at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0) continue;
            address = new Uri(line[(at + marker.Length)..].Trim());
            // keep draining the per-request log so the server never blocks on a full pipe
            _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
            return process;
        }
        throw new InvalidOperationException($"the server exited ({(process.HasExited ? process.ExitCode : -1)}) before listening");
    }

    private static void Stop(Process server)
    {
        using (var signal = Process.Start("kill", ["-INT", server.Id.ToString(CultureInfo.InvariantCulture)])) signal.WaitForExit();
        if (!server.WaitForExit(10_000)) server.Kill(entireProcessTree: true);
    }

    private static long ResidentBytes(Process process)
    {
        foreach (string line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    // `clients` loops that each send a streaming chat request, read it to the end, and send the next, until the time is
    // up; requests under way then finish (replies are bounded), so the level ends with the server idle.
    private static Level RunLevel(HttpClient http, Process server, int clients, int seconds, int replyTokens)
    {
        long rssStart = ResidentBytes(server);
        var firstTokens = new List<double>();
        long tokens = 0;
        int requests = 0, errors = 0, next = 0;
        var watch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        async Task Client()
        {
            while (watch.Elapsed < deadline)
            {
                int id = Interlocked.Increment(ref next);
                long started = Stopwatch.GetTimestamp();
                string body = JsonSerializer.Serialize(new
                {
                    model = "bench", stream = true, stream_options = new { include_usage = true }, max_tokens = replyTokens, temperature = 1.0,
                    messages = new[] { new { role = "user", content = Prompt(id) } },
                });
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().ConfigureAwait(false));
                    double? first = null;
                    int used = -1;
                    while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
                    {
                        if (line == "data: [DONE]") break;
                        if (first is null && line.Contains("\"content\":\"", StringComparison.Ordinal) && !line.Contains("\"content\":\"\"", StringComparison.Ordinal))
                            first = Stopwatch.GetElapsedTime(started).TotalSeconds;
                        if (line.Contains("\"usage\":{", StringComparison.Ordinal))
                            used = JsonDocument.Parse(line.AsMemory(6)).RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
                    }
                    if (used < 0)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                    Interlocked.Add(ref tokens, used);
                    Interlocked.Increment(ref requests);
                    if (first is { } f) lock (firstTokens) firstTokens.Add(f);
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }
        Task.WaitAll([.. Enumerable.Range(0, clients).Select(_ => Task.Run(Client))]);
        double elapsed = watch.Elapsed.TotalSeconds;
        firstTokens.Sort();
        double Percentile(double p) => firstTokens.Count == 0 ? double.NaN : firstTokens[Math.Min(firstTokens.Count - 1, (int)(p * firstTokens.Count))];
        return new Level(requests, errors, elapsed, Percentile(0.5), Percentile(0.99), tokens, rssStart, ResidentBytes(server));
    }
}
