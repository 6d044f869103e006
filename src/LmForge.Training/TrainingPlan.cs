using System.Globalization;
using LmForge.Models.Transformer;
using LmForge.Training.Objectives;

namespace LmForge.Training;

/// <summary>A GPU's dense BF16 tensor peak (no sparsity) and its memory, for lmforge plan's estimates.</summary>
public sealed record GpuPeak(string Key, string Name, double FlopsPerSecond, double MemoryBytes);

/// <summary>
/// The GPUs lmforge plan knows. Dense BF16 tensor-core peaks, half the "with sparsity" figures of the datasheets:
/// H100 SXM 989.4 TFLOP/s (https://glennklockwood.com/garden/processors/h100: BF16 matrix 989.4, sparse 1978.9; the
/// H200 is the same chip with 141 GB), A100 311.9 (https://hmc-tech.com/gpu/nvidia-l4-vs-nvidia-a100-40gb: BF16 tensor
/// 311.87, 623.74 sparse), L4 121 (NVIDIA's L4 datasheet: 242 with sparsity; hmc-tech's clock-based figure is 125.3),
/// RTX 4090 165.2 with FP32 accumulation (https://gigagpu.com/rtx-4090-24gb-tflops-ai-benchmark-class/, https://waredb.com/processor/nvidia-geforce-rtx-4090).
/// </summary>
public static class GpuPeaks
{
    public static IReadOnlyList<GpuPeak> All { get; } =
    [
        new("h100", "H100 SXM", 989e12, 80e9),
        new("h200", "H200 SXM", 989e12, 141e9),
        new("a100", "A100 SXM 80GB", 312e12, 80e9),
        new("l4", "L4", 121e12, 24e9),
        new("rtx4090", "RTX 4090", 165e12, 24e9),
    ];

    /// <summary>The GPU by key ("h100", "A100", "rtx-4090"; case, spaces and dashes ignored); a one-line error naming the known ones otherwise.</summary>
    public static GpuPeak Find(string name)
    {
        string key = new([.. name.ToLowerInvariant().Where(char.IsLetterOrDigit)]);
        return All.FirstOrDefault(g => g.Key == key)
            ?? throw new ArgumentException($"--gpu {name}: unknown GPU; known: {string.Join(", ", All.Select(g => g.Key))}");
    }
}

/// <summary>
/// What training a configuration on D tokens takes, computed without allocating the model: the parameter count
/// (<see cref="TrainingFlops.ParameterCount"/>, the built model's), FLOPs (<see cref="TrainingFlops.PerToken"/>, the
/// trainer's count), memory for weights, gradients and AdamW's two moments (all fp32) and the activations of one
/// micro-batch (<see cref="TrainingFlops.ActivationBytes"/>), and the compute-optimal token count (Chinchilla: ~20
/// tokens per parameter).
/// </summary>
public sealed record TrainingPlan
{
    /// <summary>Chinchilla's compute-optimal ratio (Hoffmann et al. 2022): about 20 training tokens per parameter.</summary>
    public const double TokensPerParameter = 20;

    public required TrainingConfig Config { get; init; }
    public required TransformerConfig Model { get; init; }
    public required long Parameters { get; init; }
    /// <summary>Training tokens D (input tokens, as the trainer counts them).</summary>
    public required long Tokens { get; init; }
    /// <summary>Sequences per micro-batch (B) the activations are counted for.</summary>
    public required int BatchSize { get; init; }
    /// <summary>An encoder-decoder's target length per row (span corruption at the config's noise); 0 for a single stack.</summary>
    public required int TargetLength { get; init; }
    public required double FlopsPerToken { get; init; }
    public required long ActivationBytes { get; init; }

    public double TotalFlops => FlopsPerToken * Tokens;
    public long WeightBytes => Parameters * sizeof(float);
    public long GradientBytes => Parameters * sizeof(float);
    /// <summary>AdamW's first and second moments, fp32.</summary>
    public long OptimizerBytes => 2 * Parameters * sizeof(float);
    public long TotalBytes => WeightBytes + GradientBytes + OptimizerBytes + ActivationBytes;
    public long ComputeOptimalTokens => (long)(TokensPerParameter * Parameters);

    /// <summary>Seconds to train at <paramref name="flopsPerSecond"/> achieved (peak × MFU).</summary>
    public double Seconds(double flopsPerSecond) => TotalFlops / flopsPerSecond;

    /// <summary>The plan of a (validated) training config over <paramref name="tokens"/> tokens, at micro-batch <paramref name="batchSize"/> (default: the config's).</summary>
    public static TrainingPlan Create(TrainingConfig config, long tokens, int? batchSize = null)
    {
        if (tokens <= 0) throw new ArgumentException($"tokens = {tokens}: expected a positive count such as 10B");
        int b = batchSize ?? config.MicroBatchSize;
        if (b < 1) throw new ArgumentException($"--batch-size {b}: expected at least 1");
        // a t5's decoder start token is the tokenizer's [PAD]; any id gives the same shape
        var model = config.ToModelConfig(decoderStartToken: config.Architecture == TransformerFamilies.T5 ? 0 : null);
        // the target length the trainer's span batches have (the builder's, with its final sentinel), not T5's helper's
        int targetLength = 0;
        if (model.IsEncoderDecoder)
        {
            var corruption = new SpanCorruption([0], 0, config.NoiseDensity, config.MeanSpanLength);
            targetLength = corruption.TargetLength(Math.Max(2, Data.SpanBatchLoader.RawLength(corruption, config.ContextLength)));
        }
        return new TrainingPlan
        {
            Config = config,
            Model = model,
            Parameters = TrainingFlops.ParameterCount(model),
            Tokens = tokens,
            BatchSize = b,
            TargetLength = targetLength,
            FlopsPerToken = TrainingFlops.PerToken(model, config.ContextLength, targetLength),
            ActivationBytes = TrainingFlops.ActivationBytes(model, b, config.ContextLength, targetLength),
        };
    }

    /// <summary>A token count with an optional suffix K, M, B or T (powers of 1000): "10B", "1.5T", "300000". One-line error otherwise.</summary>
    public static long ParseTokens(string text)
    {
        string trimmed = text.Trim().Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        double scale = 1;
        if (trimmed.Length > 0 && char.IsLetter(trimmed[^1]))
        {
            scale = char.ToUpperInvariant(trimmed[^1]) switch
            {
                'K' => 1e3,
                'M' => 1e6,
                'B' or 'G' => 1e9,
                'T' => 1e12,
                _ => 0,
            };
            trimmed = trimmed[..^1];
        }
        if (scale > 0 && double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && value * scale < 9e18)
            return (long)Math.Round(value * scale);
        throw new ArgumentException($"--tokens {text}: expected a positive count with an optional suffix K, M, B or T, e.g. 10B");
    }

    /// <summary>(MemTotal, MemAvailable) in bytes from /proc/meminfo; null where it cannot be read.</summary>
    public static (long Total, long Available)? MachineMemory()
    {
        try
        {
            if (!File.Exists("/proc/meminfo")) return null;
            long total = 0, available = 0;
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2 || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out long kilobytes)) continue;
                if (parts[0] == "MemTotal:") total = kilobytes * 1024;
                else if (parts[0] == "MemAvailable:") available = kilobytes * 1024;
            }
            return total > 0 ? (total, available > 0 ? available : total) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>1.5 GB, 312 MB (powers of 1000).</summary>
    public static string FormatBytes(double bytes) => bytes switch
    {
        >= 1e12 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e12:0.##} TB"),
        >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.##} GB"),
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.##} MB"),
        >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0.##} kB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
    };
}
