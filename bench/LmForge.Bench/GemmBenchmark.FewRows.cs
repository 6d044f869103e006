using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LmForge.Tensors.Cpu;

namespace LmForge.Bench;

// gemm --few-rows: the forward product of decoding, out (N,OC) = inp (N,C)·Wᵀ with W (OC,C), on GPT-2 124M's four
// linear shapes and its tied head, for N = 1..64 tokens decoded at once. W comes from memory as it does in decoding:
// each call uses another of several copies of W that together are 8× the L3 cache, so no copy is still cached.
// µs per call for LmForge's few-rows and packed paths, each forced, call by call in turn, and OpenBLAS on the same
// thread count (cblas_sgemv for N = 1, cblas_sgemm otherwise) in its own block; the path Gemm.Multiply chooses.
// Each figure is the fastest call of at least --cycles passes over the copies and --seconds of passes: other jobs
// share these cores, and the fastest call is the one they left alone. The chosen path's weight bytes per second are
// set against the read bandwidth measured in the same run: a 1 GiB float array summed on the same threads, fastest of
// several passes. Last, one GPT-2 124M token at N = 1: all 48 linears of 12 layers and the head in order, each with
// its own weights (494 MB), the fastest of >= --cycles tokens and 2·--seconds, our tokens in turn with 1 GiB passes;
// its bound is the fastest 1 GiB pass of the whole run.
// Usage: gemm --few-rows [--threads 2] [--rows 1,2,4,8,16,32,64] [--layers qkv,...] [--cycles 5] [--seconds 1.5]
public static unsafe partial class GemmBenchmark
{
    private static readonly (string Name, int C, int OC)[] DecodeLayers =
    [
        ("qkv", 768, 2304), ("attn-proj", 768, 768), ("fc", 768, 3072), ("fc-proj", 3072, 768), ("lm-head", 768, 50304),
        ("llama1b-down", 8192, 2048),   // only with --layers: a deep product whose few rows of A outgrow L2
    ];

    // 8× the 32 MiB L3 of the machines here.
    private const long ColdBytes = 256L << 20;

    private static int RunFewRows(string[] args)
    {
        int threads = 2, cycles = 5;
        double seconds = 1.5;
        int[] rowCounts = [1, 2, 4, 8, 16, 32, 64];
        string[] layerFilter = ["qkv", "attn-proj", "fc", "fc-proj", "lm-head"];
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--threads": threads = int.Parse(value); i++; break;
                case "--rows": rowCounts = value.Split(',').Select(int.Parse).ToArray(); i++; break;
                case "--layers": layerFilter = value.Split(','); i++; break;
                case "--cycles": cycles = int.Parse(value); i++; break;
                case "--seconds": seconds = double.Parse(value, CultureInfo.InvariantCulture); i++; break;
                default:
                    Console.Error.WriteLine($"gemm --few-rows: unknown option '{args[i]}', expected --threads, --rows, " +
                        "--layers, --cycles or --seconds");
                    return 2;
            }
        }

        OpenBlas.openblas_set_num_threads(threads);
        using var pool = new WorkerPool(threads);
        string width = Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : "scalar";
        Console.WriteLine($"OpenBLAS {Marshal.PtrToStringAnsi(OpenBlas.openblas_get_config())}, " +
            $"core {Marshal.PtrToStringAnsi(OpenBlas.openblas_get_corename())}; threads: {threads} each; " +
            $"LmForge few-rows tiles {width}, few-rows path for N <= {GemmFewRows.MaxRows}");
        Console.WriteLine($"load average at start: {LoadAverage()}");
        using var probe = new ReadBandwidthProbe();
        var (bandwidth, burst) = probe.Fastest(pool);
        Console.WriteLine($"read bandwidth, 1 GiB summed on {threads} threads with L2 prefetch: {bandwidth:F1} GB/s (fastest pass; " +
            $"its fastest 16 MiB piece: {burst:F1} GB/s)");
        // Rows are printed at the end, against the fastest 1 GiB pass of the whole run.
        var rows = new List<(int N, string Layer, double FewRows, double Packed, double OpenBlas, long Bytes, double Flops)>();
        foreach (var (name, inputs, outputs) in DecodeLayers)
        {
            if (!layerFilter.Contains(name)) continue;
            using var weights = new WeightCopies(inputs, outputs);
            foreach (int n in rowCounts)
            {
                var (fewRows, packed, openBlas) = MeasureFewRows(pool, weights, n, cycles, seconds);
                rows.Add((n, $"{name} ({inputs}→{outputs})", fewRows, packed, openBlas, weights.Bytes, 2.0 * n * inputs * outputs));
            }
        }
        var (ours, theirs, bandwidthDuring, tokenBytes) = MeasureToken(pool, probe, cycles, 2 * seconds);
        var (bandwidthAfter, burstAfter) = probe.Fastest(pool);
        Console.WriteLine($"read bandwidth between our tokens: {bandwidthDuring:F1} GB/s; after: {bandwidthAfter:F1} GB/s " +
            $"(fastest piece {burstAfter:F1} GB/s); load average at end: {LoadAverage()}");
        bandwidth = Math.Max(bandwidth, Math.Max(bandwidthDuring, bandwidthAfter));
        Console.WriteLine($"read bandwidth bound: {bandwidth:F1} GB/s, the fastest 1 GiB pass of the run");

        Console.WriteLine();
        Console.WriteLine($"µs per call, W streamed from memory: the fastest call of >= {cycles} passes and {seconds} s. " +
            "% of read bandwidth: the chosen path's W GB/s over the bound (a single short call can beat it).");
        Console.WriteLine("| N | layer (C→OC) | few-rows µs | packed µs | OpenBLAS µs | Gemm chooses | speed vs OpenBLAS | " +
            "chosen W GB/s | % of read bandwidth | chosen GFLOP/s |");
        Console.WriteLine("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            bool chooseFewRows = Gemm.ChoosesFewRows(false, true, row.N);
            double chosen = chooseFewRows ? row.FewRows : row.Packed;
            double gigabytes = row.Bytes / chosen / 1e9;
            Console.WriteLine($"| {row.N} | {row.Layer} | {row.FewRows * 1e6:F1} | {row.Packed * 1e6:F1} | " +
                $"{row.OpenBlas * 1e6:F1} | {(chooseFewRows ? "few-rows" : "packed")} | {row.OpenBlas / chosen:F2} | " +
                $"{gigabytes:F1} | {gigabytes / bandwidth:P0} | {row.Flops / chosen / 1e9:F1} |");
        }

        Console.WriteLine();
        Console.WriteLine($"GPT-2 124M, one token at N = 1: 48 linears + head, {tokenBytes / 1e6:F0} MB of weights; " +
            $"bound at {bandwidth:F1} GB/s: {tokenBytes / bandwidth / 1e6:F2} ms");
        foreach (var (name, time) in new[] { ("LmForge Gemm.Multiply", ours), ("OpenBLAS cblas_sgemv ", theirs) })
        {
            Console.WriteLine($"  {name}: fastest token {time * 1e3:F2} ms ({1 / time:F0} tokens/s if nothing else ran), " +
                $"{tokenBytes / time / 1e9:F1} GB/s, {tokenBytes / time / 1e9 / bandwidth:P0} of the read bandwidth");
        }
        return 0;
    }

    private static (double FewRows, double Packed, double OpenBlas) MeasureFewRows(
        WorkerPool pool, WeightCopies weights, int n, int cycles, double seconds)
    {
        int inputs = weights.Inputs, outputs = weights.Outputs;
        float* inp = Allocate((long)n * inputs), result = Allocate((long)n * outputs);
        try
        {
            // Our two paths call by call, so both see the same moments of a shared machine; OpenBLAS in its own block.
            double[] ours = TimeCopies(weights, cycles, seconds,
                w => Gemm.Multiply(pool, GemmPath.FewRows, false, true, n, outputs, inputs, inp, inputs, w, inputs, result, outputs),
                w => Gemm.Multiply(pool, GemmPath.Packed, false, true, n, outputs, inputs, inp, inputs, w, inputs, result, outputs));
            double[] theirs = TimeCopies(weights, cycles, seconds, w =>
            {
                if (n == 1)
                {
                    OpenBlas.cblas_sgemv(CblasRowMajor, CblasNoTrans, outputs, inputs, 1f, w, inputs, inp, 1, 0f, result, 1);
                }
                else
                {
                    OpenBlas.cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, outputs, inputs, 1f, inp, inputs,
                        w, inputs, 0f, result, outputs);
                }
            });
            return (ours[0], ours[1], theirs[0]);
        }
        finally
        {
            NativeMemory.AlignedFree(inp);
            NativeMemory.AlignedFree(result);
        }
    }

    private delegate void WeightCall(float* weight);

    // Seconds per call of each of the calls, the fastest of at least `cycles` passes and `seconds` of passes (on a
    // shared machine the fastest call is the one nobody else interrupted). A pass runs every call once on every copy
    // of W, the second call half the copies further on, so no call finds its W in cache.
    private static double[] TimeCopies(WeightCopies weights, int cycles, double seconds, params WeightCall[] calls)
    {
        Thread.Sleep(1000);   // OpenBLAS's idle threads spin for a while after its calls (see TimeRepeats)
        int count = weights.Count;
        foreach (var call in calls) for (int i = 0; i < count; i++) call(weights[i]);
        var best = new double[calls.Length];
        Array.Fill(best, double.MaxValue);
        long deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        for (int pass = 0; pass < cycles || Stopwatch.GetTimestamp() < deadline; pass++)
        {
            for (int i = 0; i < count; i++)
            {
                for (int c = 0; c < calls.Length; c++)
                {
                    float* weight = weights[(i + c * count / calls.Length) % count];
                    long start = Stopwatch.GetTimestamp();
                    calls[c](weight);
                    best[c] = Math.Min(best[c], Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
            }
        }
        return best;
    }

    private delegate void LinearCall(int inputs, int outputs, float* weight);

    // One decoded token's linears at N = 1, every matrix its own: 12 × (qkv, attn-proj, fc, fc-proj) and the head.
    // Seconds of the fastest token for Gemm.Multiply, token by token in turn with 1 GiB read-bandwidth passes so both
    // see the same moments of a shared machine (the fastest of those passes is returned too), then for cblas_sgemv.
    private static (double Ours, double Theirs, double Bandwidth, long Bytes) MeasureToken(
        WorkerPool pool, ReadBandwidthProbe probe, int cycles, double seconds)
    {
        const int Layers = 12;
        var shapes = new List<(int C, int OC)>();
        for (int layer = 0; layer < Layers; layer++) shapes.AddRange(DecodeLayers[..4].Select(s => (s.C, s.OC)));
        shapes.Add((DecodeLayers[4].C, DecodeLayers[4].OC));
        var matrices = shapes.Select(s => (IntPtr)Allocate((long)s.C * s.OC)).ToArray();
        float* inp = Allocate(3072), result = Allocate(50304);
        try
        {
            double bandwidth = 0;
            double Time(LinearCall linear, bool withProbe)
            {
                Thread.Sleep(1000);
                double best = double.MaxValue;
                long deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
                for (int token = -1; token < cycles || Stopwatch.GetTimestamp() < deadline; token++)
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < shapes.Count; i++) linear(shapes[i].C, shapes[i].OC, (float*)matrices[i]);
                    if (token >= 0) best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
                    if (withProbe) bandwidth = Math.Max(bandwidth, probe.Pass(pool).Whole);
                }
                return best;
            }
            double ours = Time((c, oc, w) => Gemm.Multiply(pool, false, true, 1, oc, c, inp, c, w, c, result, oc), true);
            double theirs = Time((c, oc, w) =>
                OpenBlas.cblas_sgemv(CblasRowMajor, CblasNoTrans, oc, c, 1f, w, c, inp, 1, 0f, result, 1), false);
            return (ours, theirs, bandwidth, shapes.Sum(s => (long)s.C * s.OC * sizeof(float)));
        }
        finally
        {
            foreach (var matrix in matrices) NativeMemory.AlignedFree((void*)matrix);
            NativeMemory.AlignedFree(inp);
            NativeMemory.AlignedFree(result);
        }
    }

    // Summing a 1 GiB float array on the pool's threads, in 16 MiB pieces each split across the threads.
    internal sealed class ReadBandwidthProbe : IDisposable
    {
        private const long Length = 1L << 28, PieceLength = 1L << 22;
        private readonly float* _data;

        public ReadBandwidthProbe()
        {
            _data = (float*)NativeMemory.AlignedAlloc((nuint)(Length * sizeof(float)), 64);
            for (long i = 0; i < Length; i += PieceLength) new Span<float>(_data + i, (int)PieceLength).Fill(1f);
        }

        public long Bytes => Length * sizeof(float);

        // GB/s of one pass over the array, and of its fastest piece (a short burst with the machine to ourselves).
        public (double Whole, double Piece) Pass(WorkerPool pool)
        {
            float* sums = stackalloc float[StreamSum.Chunks];
            double piece = double.MaxValue, total = 0;
            long passStart = Stopwatch.GetTimestamp();
            for (long offset = 0; offset < Length; offset += PieceLength)
            {
                var operation = new StreamSum(_data + offset, PieceLength / StreamSum.Chunks, sums);
                long start = Stopwatch.GetTimestamp();
                pool.Run(StreamSum.Chunks, 1, ref operation);
                piece = Math.Min(piece, Stopwatch.GetElapsedTime(start).TotalSeconds);
                for (int i = 0; i < StreamSum.Chunks; i++) total += sums[i];
            }
            double whole = Stopwatch.GetElapsedTime(passStart).TotalSeconds;
            if (total != Length) throw new InvalidOperationException($"read bandwidth: summed {total}, expected {Length}");
            return (Bytes / whole / 1e9, PieceLength * sizeof(float) / piece / 1e9);
        }

        // The fastest of 6 passes after a first one.
        public (double Whole, double Piece) Fastest(WorkerPool pool)
        {
            Pass(pool);
            double whole = 0, piece = 0;
            for (int pass = 0; pass < 6; pass++)
            {
                var (passWhole, passPiece) = Pass(pool);
                whole = Math.Max(whole, passWhole);
                piece = Math.Max(piece, passPiece);
            }
            return (whole, piece);
        }

        public void Dispose() => NativeMemory.AlignedFree(_data);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";

    private readonly struct StreamSum(float* data, long chunkLength, float* sums) : IRangeOperation
    {
        public const int Chunks = 64;

        public void Invoke(int start, int end)
        {
            for (int chunk = start; chunk < end; chunk++) sums[chunk] = Sum(data + chunk * chunkLength, chunkLength);
        }

        // Four independent sums, and each line asked into L2 16 KiB ahead as the few-rows tiles do (a little faster
        // than the hardware prefetcher alone here, so the bound is not an easy one).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static float Sum(float* x, long length)
        {
            const int Ahead = 4096;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (long i = 0; i < length; i += 64)
                {
                    Prefetch(x + i + Ahead);
                    Prefetch(x + i + Ahead + 16);
                    Prefetch(x + i + Ahead + 32);
                    Prefetch(x + i + Ahead + 48);
                    s0 += Vector512.Load(x + i);
                    s1 += Vector512.Load(x + i + 16);
                    s2 += Vector512.Load(x + i + 32);
                    s3 += Vector512.Load(x + i + 48);
                }
                return Vector512.Sum(s0 + s1 + s2 + s3);
            }
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (long i = 0; i < length; i += 32)
            {
                Prefetch(x + i + Ahead);
                Prefetch(x + i + Ahead + 16);
                t0 += Vector256.Load(x + i);
                t1 += Vector256.Load(x + i + 8);
                t2 += Vector256.Load(x + i + 16);
                t3 += Vector256.Load(x + i + 24);
            }
            return Vector256.Sum(t0 + t1 + t2 + t3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Prefetch(float* line)
        {
            if (Sse.IsSupported) Sse.Prefetch1(line);
        }
    }

    // Copies of one weight matrix (OC, C) that together exceed the last-level cache 8 times over (at least 2).
    private sealed class WeightCopies : IDisposable
    {
        private readonly IntPtr[] _copies;

        public WeightCopies(int inputs, int outputs)
        {
            Inputs = inputs;
            Outputs = outputs;
            Bytes = (long)inputs * outputs * sizeof(float);
            _copies = new IntPtr[(int)Math.Max(2, (ColdBytes + Bytes - 1) / Bytes)];
            float* first = Allocate((long)inputs * outputs);
            _copies[0] = (IntPtr)first;
            for (int i = 1; i < _copies.Length; i++)
            {
                var copy = (float*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
                Buffer.MemoryCopy(first, copy, Bytes, Bytes);
                _copies[i] = (IntPtr)copy;
            }
        }

        public int Inputs { get; }

        public int Outputs { get; }

        public long Bytes { get; }

        public int Count => _copies.Length;

        public float* this[int index] => (float*)_copies[index];

        public void Dispose()
        {
            foreach (var copy in _copies) NativeMemory.AlignedFree((void*)copy);
        }
    }
}
