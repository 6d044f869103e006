using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;
using LmForge.Training;
using LmForge.Training.Distributed;

namespace LmForge.Bench;

/// <summary>
/// The `train-mpi` suite: data parallelism on this machine. For each config, the trainer's step (forward and backward
/// on the rank's share of the batch, the gradients all-reduced, clipping, AdamW) as 1 process × 2 threads and as 2
/// processes × 1 thread (mpirun -np 2, Open MPI over shared memory), the same global batch both ways; the all-reduce's
/// time per step and its bus bandwidth (NCCL-tests' definition: bytes / time × 2(n−1)/n, what each link carries), and
/// a sweep of all-reduce time against the buffer size. Usage: train-mpi [tiny|quickstart|all] [--steps N]
/// (needs mpirun: tests/setup/mpi.sh installs Open MPI).
/// </summary>
public static class TrainMpiBenchmark
{
    private sealed record Case(string Name, TransformerConfig Config, int BatchSize, int SequenceLength, int DefaultSteps);

    // the train-step suite's shapes
    private static readonly Case[] Cases =
    [
        new("tiny", TransformerConfig.Gpt2(8192, 256, 4, 4, 256), 8, 256, 5),
        new("quickstart", TransformerConfig.Gpt2(4096, 128, 4, 4, 128), 8, 128, 20),
    ];

    private sealed record Result(string Case, int Processes, int Threads, long Parameters, double TokensPerSecond, double MillisecondsPerStep,
        double AllReduceMillisecondsPerStep, float LastLoss, double[][] Sweep);

    public static int Run(string[] args)
    {
        int? steps = args.SkipWhile(a => a != "--steps").Skip(1).Select(a => (int?)int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault();
        if (args.Contains("--worker")) return Worker(args[0], steps ?? 5, int.Parse(args.SkipWhile(a => a != "--threads").ElementAt(1), CultureInfo.InvariantCulture));
        string which = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        var cases = Cases.Where(c => which == "all" || c.Name == which).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"train-mpi: unknown case '{which}', expected {string.Join(", ", Cases.Select(c => c.Name))} or all");
            return 2;
        }
        if (!File.Exists("/usr/bin/mpirun"))
        {
            Console.Error.WriteLine($"train-mpi: mpirun is missing; {ProcessGroup.HowToInstall} (tests/setup/mpi.sh does)");
            return 1;
        }
        Console.WriteLine($"train-mpi: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the start");
        var rows = new List<(Case, Result, Result)>();
        foreach (var benchCase in cases)
        {
            int n = steps ?? benchCase.DefaultSteps;
            var one = Launch(benchCase, n, processes: 1, threads: 2);
            var two = Launch(benchCase, n, processes: 2, threads: 1);
            rows.Add((benchCase, one, two));
        }
        Console.WriteLine();
        Console.WriteLine("| config | params | gradient | 1 × 2 threads tokens/s | 2 × 1 thread tokens/s | 2 procs / 1 proc | all-reduce ms/step | share of the step | bus bandwidth |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (benchCase, one, two) in rows)
        {
            double bytes = 4.0 * two.Parameters;
            double busBandwidth = bytes / (two.AllReduceMillisecondsPerStep / 1000) * 2 * (2 - 1) / 2 / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {benchCase.Name} (B={benchCase.BatchSize}×{benchCase.SequenceLength}) | {two.Parameters / 1e6:F2}M | {bytes / 1e6:F1} MB | {one.TokensPerSecond:F0} | {two.TokensPerSecond:F0} | {two.TokensPerSecond / one.TokensPerSecond:F2}x | {two.AllReduceMillisecondsPerStep:F2} | {two.AllReduceMillisecondsPerStep / two.MillisecondsPerStep:P1} | {busBandwidth:F2} GB/s |"));
        }
        Console.WriteLine();
        Console.WriteLine("all-reduce (2 processes, in place, float32 sum, staged through host memory as the trainer does):");
        Console.WriteLine("| floats | bytes | ms | bus bandwidth |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (double[] point in rows[^1].Item3.Sweep)
        {
            double bytes = 4 * point[0];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {point[0]:N0} | {bytes / 1e6:F3} MB | {point[1]:F3} | {bytes / (point[1] / 1000) * 2 * (2 - 1) / 2 / 1e9:F2} GB/s |"));
        }
        return 0;
    }

    // Runs the worker as `processes` ranks (mpirun for 2) and reads rank 0's result line.
    private static Result Launch(Case benchCase, int steps, int processes, int threads)
    {
        string process = Environment.ProcessPath!;
        string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        List<string> command = Path.GetFileNameWithoutExtension(process) == "dotnet" && !string.IsNullOrEmpty(entry) ? [process, entry] : [process];
        command.AddRange(["train-mpi", benchCase.Name, "--worker", "--steps", $"{steps}", "--threads", $"{threads}"]);
        var start = processes == 1
            ? new ProcessStartInfo(command[0], command.Skip(1))
            : new ProcessStartInfo("mpirun", ["--oversubscribe", "--bind-to", "core", "-np", $"{processes}", .. command]);
        start.RedirectStandardOutput = true;
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        using var child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        // the JSON line, after any terminal codes the runtime wrote first
        string line = output.Split('\n').Where(l => l.Contains("{\"Case\"", StringComparison.Ordinal)).Select(l => l[l.IndexOf('{', StringComparison.Ordinal)..]).LastOrDefault()
            ?? throw new InvalidOperationException($"train-mpi worker ({processes} processes) printed no result (exit {child.ExitCode}): {output}");
        var result = JsonSerializer.Deserialize<Result>(line)!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{benchCase.Name}] {processes} process(es) x {threads} thread(s): {result.TokensPerSecond:F0} tokens/s, {result.MillisecondsPerStep:F1} ms/step, all-reduce {result.AllReduceMillisecondsPerStep:F2} ms/step, last loss {result.LastLoss:F4}"));
        return result;
    }

    // One rank: the trainer's step on its share of a fixed random batch, timed; rank 0 prints the result as JSON.
    private static int Worker(string name, int steps, int threads)
    {
        var benchCase = Cases.Single(c => c.Name == name);
        using var processes = ProcessGroup.Join();
        WorkerPool.SetSharedWorkerCount(threads);
        var backend = CpuBackend.Shared;
        int b = benchCase.BatchSize / processes.Size, t = benchCase.SequenceLength;
        using var model = new TransformerTrainableModel(new TransformerModel(benchCase.Config, backend));
        model.Model.InitializeWeights(seed: 20230828);
        AdamWOptimizer NewOptimizer() =>
            new(backend, model.Parameters.Length, model.DecayedParameterCount, new AdamWSettings(0.9f, 0.95f, 1e-8f, 0.1f));
        var optimizer = NewOptimizer();
        // the global batch's rows, of which this rank takes its share
        var random = new Random(20230828);
        int[] sequence = [.. Enumerable.Range(0, benchCase.BatchSize * (t + 1)).Select(_ => random.Next(benchCase.Config.VocabSize))];
        var inputs = new int[b * t];
        var targets = new int[b * t];
        for (int row = 0; row < b; row++)
        {
            int global = processes.Rank * b + row;
            Array.Copy(sequence, global * (t + 1), inputs, row * t, t);
            Array.Copy(sequence, global * (t + 1) + 1, targets, row * t, t);
        }
        var loss = new double[1];
        long allReduceTicks = 0;
        float lastLoss = 0;
        void Step()
        {
            backend.Clear(model.Gradients);
            loss[0] = model.ForwardBackward(inputs, targets, b, t, 1f / processes.Size);
            long before = Stopwatch.GetTimestamp();
            processes.AllReduceSum(backend, model.Gradients);
            processes.AllReduceSum(loss);
            allReduceTicks += Stopwatch.GetTimestamp() - before;
            float norm = (float)Math.Sqrt(backend.SumOfSquares(model.Gradients));
            optimizer.Step(model.Parameters, model.Gradients, 3e-4f, Math.Min(1f, 1f / (norm + 1e-6f)));
            lastLoss = (float)(loss[0] / processes.Size);
        }
        // Warm up as train-step does (TrainStepBenchmark.WarmUpSeconds): a process's first seconds run part of the code
        // unoptimized (tiered compilation; with one thread per rank the optimizing compiler waits for a busy core). The ranks
        // agree on when to stop, so each runs as many steps (each step all-reduces); then the weights and the optimizer
        // start afresh, so that the last loss of every process count is the same (the runs' cross-check).
        var warmUp = Stopwatch.StartNew();
        var more = new double[1];
        do
        {
            Step();
            more[0] = warmUp.Elapsed.TotalSeconds < TrainStepBenchmark.WarmUpSeconds ? 1 : 0;
            processes.AllReduceSum(more);
        }
        while (more[0] > 0);
        model.Model.InitializeWeights(seed: 20230828);
        optimizer.Dispose();
        optimizer = NewOptimizer();
        allReduceTicks = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        double seconds = clock.Elapsed.TotalSeconds;

        var sweep = new List<double[]>();
        if (processes.Size > 1)
        {
            for (long count = 1 << 10; count <= 1 << 24; count <<= 2)
            {
                using var buffer = backend.Allocate(new TensorShape((int)count));
                int repeats = (int)Math.Clamp((1 << 24) / count, 3, 200);
                processes.AllReduceSum(backend, buffer);
                long before = Stopwatch.GetTimestamp();
                for (int i = 0; i < repeats; i++) processes.AllReduceSum(backend, buffer);
                sweep.Add([count, Stopwatch.GetElapsedTime(before).TotalMilliseconds / repeats]);
            }
        }
        optimizer.Dispose();
        if (processes.Rank == 0)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Result(name, processes.Size, threads, model.Parameters.Length,
                (double)benchCase.BatchSize * t * steps / seconds, 1000 * seconds / steps,
                1000 * (allReduceTicks / (double)Stopwatch.Frequency) / steps, lastLoss, [.. sweep])));
        }
        return 0;
    }
}
