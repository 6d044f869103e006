using System.Diagnostics;
using System.Runtime.InteropServices;
using LmForge.Tensors.Cpu;

namespace LmForge.Bench;

// Gemm.Multiply against OpenBLAS cblas_sgemm (libopenblas.so.0), both on 2 threads, on the products a GPT-2
// training step runs: for a linear layer inp (M,K) → out (M,N) with weight W (N,K),
//   forward  out  = inp·Wᵀ        m=M n=N k=K  (A·Bᵀ)
//   dinp     dinp = dout·W        m=M n=K k=N  (A·B)
//   dW       dW  += doutᵀ·inp     m=N n=K k=M  (Aᵀ·B, accumulate)
// Each library is timed in its own block after a warm-up; each figure is the median of several timed repeats.
// Usage: gemm [--threads N] [--layers qkv,fc,...] [--rows 256,1024] [--best]
// --best reports the fastest repeat instead of the median: steadier when other processes share the cores.
// gemm --few-rows [...]: the decode-time forward products instead (GemmBenchmark.FewRows.cs).
public static unsafe partial class GemmBenchmark
{
    private const int CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112;

    private static readonly (string Name, int K, int N)[] Layers =
    [
        ("qkv", 768, 2304), ("attn-proj", 768, 768), ("fc", 768, 3072), ("fc-proj", 3072, 768),
        ("lm-head", 768, 50304), ("tiny-fc", 256, 1024), ("tiny-proj", 1024, 256), ("tiny-head", 256, 8192),
    ];

    public static int Run(string[] args)
    {
        if (args.Contains("--few-rows")) return RunFewRows(args.Where(arg => arg != "--few-rows").ToArray());
        int threads = 2;
        string[]? layerFilter = null;
        int[] rowCounts = [256, 1024];
        bool best = false;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--threads": threads = int.Parse(value); i++; break;
                case "--layers": layerFilter = value.Split(','); i++; break;
                case "--rows": rowCounts = value.Split(',').Select(int.Parse).ToArray(); i++; break;
                case "--best": best = true; break;
                default:
                    Console.Error.WriteLine($"gemm: unknown option '{args[i]}', expected --threads, --layers, --rows or --best");
                    return 2;
            }
        }

        OpenBlas.openblas_set_num_threads(threads);
        using var pool = new WorkerPool(threads);
        Console.WriteLine($"OpenBLAS {Marshal.PtrToStringAnsi(OpenBlas.openblas_get_config())}, " +
            $"core {Marshal.PtrToStringAnsi(OpenBlas.openblas_get_corename())}; threads: {threads} each; " +
            $"LmForge micro-kernel {GemmKernel.InstructionSet} ({GemmKernel.Mr}×{GemmKernel.Nr})");
        // The machine's measured FMA peak for each instruction set it runs, on the same worker count as the products.
        var peaks = new[] { 512, 256 }.Where(bits => bits == 256 || MachinePeak.WidestVectorBits == 512)
            .Select(bits => MachinePeak.Measure(0.3, bits)).ToArray();
        Console.WriteLine($"CPU {MachinePeak.CpuModel()}; measured FMA peak on {WorkerPool.Shared.WorkerCount} threads: " +
            string.Join(", ", peaks.Select(p => $"{p.Gflops:F0} GFLOP/s with {p.InstructionSet} vectors")));
        // "% peak": ours against the widest unit's peak for this many threads
        double peak = peaks[0].Gflops * threads / WorkerPool.Shared.WorkerCount;
        Console.WriteLine();
        Console.WriteLine($"GFLOP/s from the {(best ? "fastest" : "median")} of 3-15 timed repeats after a warm-up.");
        Console.WriteLine("CPU columns divide by the process's CPU time instead of wall time (GFLOP per core-second):");
        Console.WriteLine("how fast the code runs while it has a core, whatever else the machine is doing.");
        Console.WriteLine("| M | layer (K→N) | form | m×n×k | LmForge GFLOP/s | % peak | OpenBLAS GFLOP/s | ratio | " +
            "LmForge CPU | OpenBLAS CPU | CPU ratio |");
        Console.WriteLine("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|");

        var ratios = new List<double>();
        var cpuRatios = new List<double>();
        foreach (int rows in rowCounts)
        {
            foreach (var (name, k, n) in Layers)
            {
                if (layerFilter != null && !layerFilter.Contains(name)) continue;
                foreach (var form in new[] { "forward", "dinp", "dW" })
                {
                    var (ours, theirs, shape) = Measure(pool, form, rows, k, n, best);
                    ratios.Add(ours.Wall / theirs.Wall);
                    cpuRatios.Add(ours.Cpu / theirs.Cpu);
                    Console.WriteLine($"| {rows} | {name} ({k}→{n}) | {form} | {shape} | {ours.Wall:F1} | {100 * ours.Wall / peak:F0} % | " +
                        $"{theirs.Wall:F1} | {ours.Wall / theirs.Wall:F2} | {ours.Cpu:F1} | {theirs.Cpu:F1} | " +
                        $"{ours.Cpu / theirs.Cpu:F2} |");
                }
            }
        }
        double geometricMean = Math.Exp(ratios.Average(Math.Log));
        Console.WriteLine();
        Console.WriteLine($"geometric mean ratio {geometricMean:F2}, min {ratios.Min():F2}, max {ratios.Max():F2}; " +
            $"CPU ratio {Math.Exp(cpuRatios.Average(Math.Log)):F2}, min {cpuRatios.Min():F2}, max {cpuRatios.Max():F2}");
        return 0;
    }

    private static ((double Wall, double Cpu) Ours, (double Wall, double Cpu) Theirs, string Shape) Measure(
        WorkerPool pool, string form, int rows, int inputs, int outputs, bool best)
    {
        // Buffers of a layer: inp (rows, inputs), weight (outputs, inputs), out/dout (rows, outputs).
        long inpLength = (long)rows * inputs, weightLength = (long)outputs * inputs, outLength = (long)rows * outputs;
        float* inp = Allocate(inpLength), weight = Allocate(weightLength), dout = Allocate(outLength);
        float* result = Allocate(Math.Max(Math.Max(inpLength, weightLength), outLength));
        try
        {
            bool transposeA, transposeB, accumulate;
            int m, n, k, lda, ldb;
            float* a, b;
            switch (form)
            {
                case "forward":
                    (transposeA, transposeB, accumulate, m, n, k) = (false, true, false, rows, outputs, inputs);
                    a = inp; b = weight; (lda, ldb) = (inputs, inputs);
                    break;
                case "dinp":
                    (transposeA, transposeB, accumulate, m, n, k) = (false, false, false, rows, inputs, outputs);
                    a = dout; b = weight; (lda, ldb) = (outputs, inputs);
                    break;
                default:
                    (transposeA, transposeB, accumulate, m, n, k) = (true, false, true, outputs, inputs, rows);
                    a = dout; b = inp; (lda, ldb) = (outputs, inputs);
                    break;
            }

            void Ours() => Gemm.Multiply(pool, transposeA, transposeB, m, n, k, a, lda, b, ldb, result, n, accumulate);
            void Theirs() => OpenBlas.cblas_sgemm(
                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                m, n, k, 1f, a, lda, b, ldb, accumulate ? 1f : 0f, result, n);

            double flops = 2.0 * m * n * k;
            // Aim for about half a second of timed work per library, within 3..15 repeats.
            Ours();
            var probe = Stopwatch.StartNew();
            Ours();
            int repeats = (int)Math.Clamp(0.5 / Math.Max(probe.Elapsed.TotalSeconds, 1e-6), 3, 15);
            var (oursWall, oursCpu) = TimeRepeats(Ours, repeats);
            var (theirsWall, theirsCpu) = TimeRepeats(Theirs, repeats);
            Func<List<double>, double> statistic = best ? values => values.Min() : Median;
            return ((flops / statistic(oursWall) / 1e9, flops / statistic(oursCpu) / 1e9),
                (flops / statistic(theirsWall) / 1e9, flops / statistic(theirsCpu) / 1e9), $"{m}×{n}×{k}");
        }
        finally
        {
            NativeMemory.AlignedFree(inp);
            NativeMemory.AlignedFree(weight);
            NativeMemory.AlignedFree(dout);
            NativeMemory.AlignedFree(result);
        }
    }

    // One library at a time, after a pause: OpenBLAS's idle threads keep spinning for a while after a call
    // and would steal a core from whatever runs next, so interleaving the two would penalize the second one.
    private static (List<double> Wall, List<double> Cpu) TimeRepeats(Action action, int repeats)
    {
        Thread.Sleep(300);
        action();
        var wall = new List<double>(repeats);
        var cpu = new List<double>(repeats);
        for (int r = 0; r < repeats; r++)
        {
            double cpuStart = ProcessCpuSeconds();
            long start = Stopwatch.GetTimestamp();
            action();
            wall.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            cpu.Add(ProcessCpuSeconds() - cpuStart);
        }
        return (wall, cpu);
    }

    // CPU time of all threads of this process: clock_gettime(CLOCK_PROCESS_CPUTIME_ID), exact to the nanosecond
    // (getrusage is sampled at scheduler ticks, too coarse for millisecond products).
    private static double ProcessCpuSeconds()
    {
        const int ClockProcessCpuTimeId = 2;
        long* time = stackalloc long[2];
        if (Libc.clock_gettime(ClockProcessCpuTimeId, time) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
        }
        return time[0] + time[1] * 1e-9;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }

    private static float* Allocate(long length)
    {
        var memory = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
        var random = new Random(20230828);
        // Small values keep the repeated accumulation of the dW form far from overflow.
        for (long i = 0; i < length; i++) memory[i] = (float)(random.NextDouble() - 0.5) * 0.01f;
        return memory;
    }

    private static class Libc
    {
        [DllImport("libc")]
        public static extern int clock_gettime(int clock, long* time);
    }

    private static class OpenBlas
    {
        private const string Library = "libopenblas.so.0";

        [DllImport(Library)]
        public static extern void cblas_sgemm(
            int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda,
            float* b, int ldb, float beta, float* c, int ldc);

        [DllImport(Library)]
        public static extern void cblas_sgemv(
            int order, int trans, int m, int n, float alpha, float* a, int lda, float* x, int incX, float beta,
            float* y, int incY);

        [DllImport(Library)]
        public static extern void openblas_set_num_threads(int threads);

        [DllImport(Library)]
        public static extern IntPtr openblas_get_corename();

        [DllImport(Library)]
        public static extern IntPtr openblas_get_config();
    }
}
