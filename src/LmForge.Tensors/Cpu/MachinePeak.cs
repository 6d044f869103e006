using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmForge.Tensors.Cpu;

/// <summary>Where a <see cref="MachinePeak"/> comes from.</summary>
public enum PeakSource
{
    /// <summary>Measured now by the FMA probe.</summary>
    Measured,
    /// <summary>Measured earlier on this machine (same CPU model, core count and instruction set) and read from the cache.</summary>
    Cached,
    /// <summary>Given by the user (LMFORGE_PEAK_GFLOPS or a setting).</summary>
    Stated,
}

/// <summary>
/// The machine's peak FP32 rate, the denominator of every MFU the tools report (the trainer, the train-step benchmark,
/// lmforge plan): measured by a short FMA probe (twelve independent FMA chains on every worker of
/// <see cref="WorkerPool.Shared"/> at once, in the widest vector the runtime accelerates), cached per machine and
/// instruction set in the user's cache directory, or stated by the user. Always reported with its source
/// (<see cref="Description"/>), since an MFU is only as honest as its peak.
/// </summary>
public sealed record MachinePeak(double FlopsPerSecond, PeakSource Source, string InstructionSet, int Threads)
{
    /// <summary>A stated peak in GFLOP/s; it wins over the measured one.</summary>
    public const string EnvironmentVariable = "LMFORGE_PEAK_GFLOPS";

    /// <summary>The cache file's name under <see cref="DefaultCacheDirectory"/>.</summary>
    public const string CacheFileName = "machine-peak.json";

    static readonly Lock Gate = new();
    static MachinePeak? _current;

    public double Gflops => FlopsPerSecond / 1e9;

    /// <summary>"measured 702 GFLOP/s, 512-bit FMA, 2 threads", "... (cached)", or "stated 500 GFLOP/s".</summary>
    public string Description => Source == PeakSource.Stated
        ? string.Create(CultureInfo.InvariantCulture, $"stated {Gflops:F0} GFLOP/s")
        : string.Create(CultureInfo.InvariantCulture,
            $"measured {Gflops:F0} GFLOP/s, {InstructionSet} FMA, {Threads} thread{(Threads == 1 ? "" : "s")}{(Source == PeakSource.Cached ? " (cached)" : "")}");

    public override string ToString() => Description;

    /// <summary>
    /// This process's peak, found once: <paramref name="statedGflops"/> (a setting) when positive, else
    /// LMFORGE_PEAK_GFLOPS, else the cached measurement for this CPU, core count and instruction set, else a new
    /// measurement (~0.2 s), which is then cached. A stated peak is not remembered between calls; a measured one is.
    /// </summary>
    public static MachinePeak Get(double statedGflops = 0)
    {
        if (Stated(statedGflops) is { } stated) return stated;
        lock (Gate)
        {
            return _current ??= FromCacheOrMeasure(DefaultCacheDirectory());
        }
    }

    /// <summary>A stated peak from the argument (when positive) or else from LMFORGE_PEAK_GFLOPS; null when neither says one. A malformed variable is a one-line <see cref="ArgumentException"/>.</summary>
    public static MachinePeak? Stated(double statedGflops = 0)
    {
        if (statedGflops > 0 && double.IsFinite(statedGflops)) return StatedPeak(statedGflops);
        string? text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double gflops) || !(gflops > 0) || !double.IsFinite(gflops))
            throw new ArgumentException($"{EnvironmentVariable}={text}: expected the machine's peak in GFLOP/s, a positive number such as 700");
        return StatedPeak(gflops);
    }

    static MachinePeak StatedPeak(double gflops) => new(gflops * 1e9, PeakSource.Stated, "", WorkerPool.Shared.WorkerCount);

    /// <summary>The cached peak in <paramref name="cacheDirectory"/> for this machine and instruction set, else a new measurement written there.</summary>
    public static MachinePeak FromCacheOrMeasure(string cacheDirectory)
    {
        string path = Path.Combine(cacheDirectory, CacheFileName);
        string key = CacheKey();
        if (ReadCache(path, key) is { } cached) return cached;
        var measured = Measure();
        WriteCache(path, key, measured);
        return measured;
    }

    /// <summary>$XDG_CACHE_HOME/lmforge, else ~/.cache/lmforge.</summary>
    public static string DefaultCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "lmforge");
    }

    /// <summary>The widest vector the runtime accelerates: "512-bit", "256-bit" or "scalar".</summary>
    public static string WidestInstructionSet => InstructionSetName(WidestVectorBits);

    /// <summary>The widest accelerated vector in bits: 512, 256, or 32 (scalar).</summary>
    public static int WidestVectorBits => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 32;

    static string InstructionSetName(int vectorBits) => vectorBits == 32 ? "scalar" : $"{vectorBits}-bit";

    /// <summary>
    /// The CPU's model name from /proc/cpuinfo with its family and model numbers ("AMD EPYC (family 25, model 17)": a
    /// virtual machine's name may say only the vendor, and a Zen 4 and a Zen 5 then differ only there), else the architecture.
    /// </summary>
    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                string? name = null, family = null, model = null;
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.Length == 0) break;   // the first processor's block is enough
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if (key == "model name") name = value;
                    else if (key == "cpu family") family = value;
                    else if (key == "model") model = value;
                }
                if (!string.IsNullOrEmpty(name))
                    return family is null || model is null ? name : $"{name} (family {family}, model {model})";
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The cache key: CPU model, worker count and instruction set.</summary>
    public static string CacheKey() => $"{CpuModel()} | {WorkerPool.Shared.WorkerCount} threads | {WidestInstructionSet}";

    /// <summary>Reads the entry for <paramref name="key"/>; null when the file, the entry or a sane value is missing.</summary>
    public static MachinePeak? ReadCache(string path, string key)
    {
        try
        {
            if (!File.Exists(path)) return null;
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject root || root[key] is not JsonObject entry) return null;
            double gflops = entry["gflops"]?.GetValue<double>() ?? 0;
            string isa = entry["instructionSet"]?.GetValue<string>() ?? "";
            int threads = entry["threads"]?.GetValue<int>() ?? 0;
            return gflops > 0 && double.IsFinite(gflops) && threads > 0 ? new MachinePeak(gflops * 1e9, PeakSource.Cached, isa, threads) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException)
        {
            return null;   // an unreadable cache is measured afresh and rewritten
        }
    }

    /// <summary>Adds or replaces the entry for <paramref name="key"/>, written to a temporary file and renamed over the old one. Failing to write is not an error (the next run measures again).</summary>
    public static void WriteCache(string path, string key, MachinePeak peak)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            JsonObject root;
            try
            {
                root = File.Exists(path) && JsonNode.Parse(File.ReadAllText(path)) is JsonObject existing ? existing : [];
            }
            catch (JsonException)
            {
                root = [];
            }
            root[key] = new JsonObject
            {
                ["gflops"] = Math.Round(peak.Gflops, 1),
                ["instructionSet"] = peak.InstructionSet,
                ["threads"] = peak.Threads,
                ["measuredAt"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            };
            string temporary = $"{path}.tmp-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}";
            File.WriteAllText(temporary, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Runs the FMA probe on every worker of <see cref="WorkerPool.Shared"/> at once for about
    /// <paramref name="seconds"/> (three timed rounds after a warm-up; the best is kept).
    /// </summary>
    public static MachinePeak Measure(double seconds = 0.2) => Measure(seconds, WidestVectorBits);

    /// <summary>
    /// The probe with vectors of <paramref name="vectorBits"/> (512, 256 or 32 for scalar), for the benchmarks' peak per
    /// instruction set; a width the machine does not accelerate throws.
    /// </summary>
    public static MachinePeak Measure(double seconds, int vectorBits)
    {
        bool supported = vectorBits switch
        {
            512 => Vector512.IsHardwareAccelerated,
            256 => Vector256.IsHardwareAccelerated,
            32 => true,
            _ => false,
        };
        if (!supported) throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, $"{vectorBits}-bit vectors are not accelerated on this machine");
        var pool = WorkerPool.Shared;
        int lanes = vectorBits / 32;
        // warm-up and calibration: double the iterations until a round takes 20 ms (the pool's handoff is then noise),
        // then size the three timed rounds to a third of the budget each
        var probe = new FmaProbe { Iterations = 10_000, CpuSeconds = new double[pool.WorkerCount], VectorBits = vectorBits };
        double round = Time(pool, ref probe);
        while (round < 0.02 && probe.Iterations < 1_000_000_000)
        {
            probe.Iterations *= 2;
            round = Time(pool, ref probe);
        }
        probe.Iterations = (long)Math.Clamp(probe.Iterations * (seconds / 3 / round), 10_000, 2_000_000_000);
        // per iteration each worker issues FmaProbe.Chains FMAs of `lanes` floats, 2 FLOPs each
        double flopsPerWorker = (double)probe.Iterations * FmaProbe.Chains * lanes * 2;
        double best = 0;
        for (int i = 0; i < 3; i++)
        {
            double wall = Time(pool, ref probe);
            double rate = pool.WorkerCount * flopsPerWorker / wall;
            // Where each worker's own CPU time is known (Linux), the rate is Σ flops / CPU seconds per worker: what
            // the cores do while the probe runs on them, so other processes taking turns on a busy machine do not
            // lower the peak (a wall-clock probe on a loaded 2-core machine read 75 instead of ~360 GFLOP/s)
            if (probe.CpuSeconds.All(t => t > 0)) rate = Math.Max(rate, probe.CpuSeconds.Sum(t => flopsPerWorker / t));
            best = Math.Max(best, rate);
        }
        return new MachinePeak(best, PeakSource.Measured, InstructionSetName(vectorBits), pool.WorkerCount);
    }

    static double Time(WorkerPool pool, ref FmaProbe probe)
    {
        long start = Stopwatch.GetTimestamp();
        pool.Run(pool.WorkerCount, 1, ref probe);
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>This thread's CPU time (CLOCK_THREAD_CPUTIME_ID) on Linux; 0 elsewhere or when it cannot be read.</summary>
    static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        try
        {
            const int ClockThreadCpuTime = 3;
            return ClockGetTime(ClockThreadCpuTime, out var time) == 0 ? time.Seconds + (time.Nanoseconds * 1e-9) : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>An MFU as reported: at most 1 (a higher one means the peak is wrong; <see cref="Exceeds"/> says so).</summary>
    public static double Clamp(double mfu) => double.IsFinite(mfu) ? Math.Clamp(mfu, 0, 1) : 0;

    /// <summary>Whether an unclamped MFU reads above 100 %, i.e. the peak it was divided by is too low.</summary>
    public static bool Exceeds(double mfu) => mfu > 1.0;

    /// <summary>One item per worker; each runs <see cref="Chains"/> independent FMA chains for Iterations steps.</summary>
    struct FmaProbe : IRangeOperation
    {
        public const int Chains = 12;
        public long Iterations;
        /// <summary>Per worker: the CPU seconds its thread spent in the last run (0 where the platform does not say).</summary>
        public double[] CpuSeconds;
        public float Sink;
        public int VectorBits;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int start, int end)
        {
            float sum = 0;
            for (int i = start; i < end; i++)
            {
                double before = ThreadCpuSeconds();
                sum += VectorBits == 512 ? Run<Float512, Vector512<float>>(Iterations)
                    : VectorBits == 256 ? Run<Float256, Vector256<float>>(Iterations) : RunScalar(Iterations);
                double after = ThreadCpuSeconds();
                CpuSeconds[i] = before > 0 && after > before ? after - before : 0;
            }
            Sink += sum;
        }

        // acc = acc · a + b with a just below 1 stays finite for any iteration count; twelve accumulators cover the
        // FMA latency (4 cycles) times the FMA ports (2) with room to spare
        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        static float Run<TLanes, TVector>(long iterations) where TLanes : struct, IFloatLanes<TVector> where TVector : struct
        {
            var a = TLanes.Create(0.9999999f);
            var b = TLanes.Create(1e-7f);
            TVector c0 = TLanes.Create(1f), c1 = TLanes.Add(c0, b), c2 = TLanes.Add(c1, b), c3 = TLanes.Add(c2, b), c4 = TLanes.Add(c3, b),
                c5 = TLanes.Add(c4, b), c6 = TLanes.Add(c5, b), c7 = TLanes.Add(c6, b), c8 = TLanes.Add(c7, b), c9 = TLanes.Add(c8, b),
                c10 = TLanes.Add(c9, b), c11 = TLanes.Add(c10, b);
            for (long n = 0; n < iterations; n++)
            {
                c0 = TLanes.MultiplyAdd(c0, a, b); c1 = TLanes.MultiplyAdd(c1, a, b);
                c2 = TLanes.MultiplyAdd(c2, a, b); c3 = TLanes.MultiplyAdd(c3, a, b);
                c4 = TLanes.MultiplyAdd(c4, a, b); c5 = TLanes.MultiplyAdd(c5, a, b);
                c6 = TLanes.MultiplyAdd(c6, a, b); c7 = TLanes.MultiplyAdd(c7, a, b);
                c8 = TLanes.MultiplyAdd(c8, a, b); c9 = TLanes.MultiplyAdd(c9, a, b);
                c10 = TLanes.MultiplyAdd(c10, a, b); c11 = TLanes.MultiplyAdd(c11, a, b);
            }
            var sum = TLanes.Add(TLanes.Add(TLanes.Add(c0, c1), TLanes.Add(c2, c3)), TLanes.Add(TLanes.Add(c4, c5), TLanes.Add(c6, c7)));
            return TLanes.Sum(TLanes.Add(sum, TLanes.Add(TLanes.Add(c8, c9), TLanes.Add(c10, c11))));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        static float RunScalar(long iterations)
        {
            const float a = 0.9999999f, b = 1e-7f;
            float c0 = 1f, c1 = c0 + b, c2 = c1 + b, c3 = c2 + b, c4 = c3 + b, c5 = c4 + b,
                c6 = c5 + b, c7 = c6 + b, c8 = c7 + b, c9 = c8 + b, c10 = c9 + b, c11 = c10 + b;
            for (long n = 0; n < iterations; n++)
            {
                c0 = (c0 * a) + b; c1 = (c1 * a) + b; c2 = (c2 * a) + b; c3 = (c3 * a) + b;
                c4 = (c4 * a) + b; c5 = (c5 * a) + b; c6 = (c6 * a) + b; c7 = (c7 * a) + b;
                c8 = (c8 * a) + b; c9 = (c9 * a) + b; c10 = (c10 * a) + b; c11 = (c11 * a) + b;
            }
            return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        }
    }
}
