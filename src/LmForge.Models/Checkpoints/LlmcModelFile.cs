using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>How an llm.c model file stores its parameters: version 3 (float32) or version 5 (bfloat16).</summary>
public enum LlmcPrecision
{
    Float32,
    BFloat16,
}

/// <summary>
/// The header of an llm.c GPT-2 model file (<c>gpt2_124M.bin</c>, <c>gpt2_124M_bf16.bin</c>): 256 little-endian int32,
/// of which [0] magic 20240326, [1] version, [2] maxT, [3] V, [4] L, [5] NH, [6] C, [7] Vp (the padded vocabulary).
/// </summary>
public sealed record LlmcModelHeader(int Version, int MaxT, int VocabSize, int LayerCount, int HeadCount, int Width, int PaddedVocabSize)
{
    public LlmcPrecision Precision => Version == LlmcModelFile.BFloat16Version ? LlmcPrecision.BFloat16 : LlmcPrecision.Float32;

    public int BytesPerValue => Precision == LlmcPrecision.BFloat16 ? 2 : 4;

    /// <summary>The GPT-2 these sizes describe (our vocabulary padding, not the file's Vp).</summary>
    public TransformerConfig ToConfig() => TransformerConfig.Gpt2(VocabSize, MaxT, LayerCount, HeadCount, Width);

    /// <summary>Parameters in the file: llm.c's fill_in_parameter_sizes summed (wte with Vp rows).</summary>
    public long ParameterCount
    {
        get
        {
            long c = Width, l = LayerCount;
            return ((long)PaddedVocabSize * c) + ((long)MaxT * c) + (l * ((12 * c * c) + (13 * c))) + (2 * c);
        }
    }

    public long FileLength => LlmcModelFile.HeaderBytes + (ParameterCount * BytesPerValue);
}

/// <summary>
/// llm.c's GPT-2 model file, as train_gpt2.py's write_model and train_gpt2.c/.cu's gpt2_build_from_checkpoint and
/// gpt2_write_to_checkpoint read and write it: the 1024-byte header (<see cref="LlmcModelHeader"/>), then every parameter
/// in one of two dtypes, each tensor kind for all layers together in this order: wte (Vp, C), wpe (maxT, C), ln1w (L, C),
/// ln1b (L, C), qkvw (L, 3C, C), qkvb (L, 3C), attprojw (L, C, C), attprojb (L, C), ln2w (L, C), ln2b (L, C),
/// fcw (L, 4C, C), fcb (L, 4C), fcprojw (L, C, 4C), fcprojb (L, C), lnfw (C), lnfb (C). Matrices are nn.Linear's
/// (out, in), as ours, so nothing is transposed. wte's rows beyond V (llm.c pads V to a multiple of 128, 50257 → 50304)
/// are not read (our padded rows load as zero, whatever the file's Vp) and are written as zeros up to llm.c's Vp.
/// bfloat16 files are widened on load and rounded to nearest even on save. Parameters are reached only through backend
/// copies. A tokenizer is not part of the file (llm.c keeps it in a separate gpt2_tokenizer.bin).
/// </summary>
/// <example>
/// <code>
/// using TransformerModel model = LlmcModelFile.Load("gpt2_124M.bin");
/// LlmcModelFile.Save(model, "gpt2_124M_bf16.bin", LlmcPrecision.BFloat16);
/// </code>
/// </example>
public static class LlmcModelFile
{
    public const int Magic = 20240326;
    public const int Float32Version = 3;
    public const int BFloat16Version = 5;
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);

    /// <summary>llm.c pads the vocabulary of its files to a multiple of this (train_gpt2.py's pad_vocab).</summary>
    public const int VocabularyMultiple = 128;

    // llm.c's tensor kinds in file order after wte and wpe (ln1w ... fcprojb), as our parameter names.
    private static readonly string[] LayerTensors =
    [
        "h.{0}.ln_1.weight", "h.{0}.ln_1.bias", "h.{0}.attn.c_attn.weight", "h.{0}.attn.c_attn.bias",
        "h.{0}.attn.c_proj.weight", "h.{0}.attn.c_proj.bias", "h.{0}.ln_2.weight", "h.{0}.ln_2.bias",
        "h.{0}.mlp.c_fc.weight", "h.{0}.mlp.c_fc.bias", "h.{0}.mlp.c_proj.weight", "h.{0}.mlp.c_proj.bias",
    ];

    /// <summary>Reads and checks the header: magic, version, sizes, and the file length they imply; each failure is one line naming the file.</summary>
    public static LlmcModelHeader ReadHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadHeader(path, stream);
    }

    private static LlmcModelHeader ReadHeader(string path, FileStream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("llm.c model files need a little-endian machine");
        long length = stream.Length;
        if (length < 8)
            throw new InvalidDataException($"{path}: truncated: {length} bytes, shorter than llm.c's {HeaderBytes}-byte model header");
        var bytes = new byte[HeaderBytes];
        int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        int Int(int index) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(index * 4));
        int magic = Int(0);
        if (magic != Magic)
        {
            string what = magic switch
            {
                20240327 => " (llm.c's debug state file, not a model file)",
                20240520 or 20240801 => " (an llm.c token shard, not a model file)",
                _ => "",
            };
            throw new InvalidDataException($"{path}: not an llm.c GPT-2 model file: magic {magic}{what}, expected {Magic}");
        }
        int version = Int(1);
        if (version != Float32Version && version != BFloat16Version)
            throw new InvalidDataException($"{path}: llm.c model file version {version} is not one LmForge reads ({Float32Version}: float32, {BFloat16Version}: bfloat16, both with padded vocabulary)");
        if (read < HeaderBytes)
            throw new InvalidDataException($"{path}: truncated: {length} bytes, shorter than llm.c's {HeaderBytes}-byte model header");
        var header = new LlmcModelHeader(version, Int(2), Int(3), Int(4), Int(5), Int(6), Int(7));
        void Check(bool ok, string problem)
        {
            if (!ok) throw new InvalidDataException($"{path}: sizes do not add up: {problem} (header maxT {header.MaxT}, V {header.VocabSize}, L {header.LayerCount}, NH {header.HeadCount}, C {header.Width}, Vp {header.PaddedVocabSize})");
        }
        Check(header.MaxT > 0 && header.VocabSize > 0 && header.LayerCount > 0 && header.HeadCount > 0 && header.Width > 0, "a size is not positive");
        Check(header.Width % header.HeadCount == 0, $"NH {header.HeadCount} does not divide C {header.Width}");
        Check(header.PaddedVocabSize >= header.VocabSize, $"Vp {header.PaddedVocabSize} is smaller than V {header.VocabSize}");
        Check(4L * header.Width * header.Width <= int.MaxValue && (long)header.PaddedVocabSize * header.Width <= int.MaxValue
            && (long)header.MaxT * header.Width <= int.MaxValue && header.LayerCount <= 1 << 20, "a tensor would exceed 2^31 elements");
        if (length < header.FileLength)
            throw new InvalidDataException($"{path}: truncated: {length} bytes, but its header (version {version}, {header.ParameterCount} parameters of {header.BytesPerValue} bytes) needs {header.FileLength}");
        Check(length == header.FileLength, $"the file has {length} bytes, {length - header.FileLength} more than the {header.FileLength} its header needs ({header.ParameterCount} parameters of {header.BytesPerValue} bytes)");
        return header;
    }

    /// <summary>Builds the GPT-2 the header describes and loads the file into it (<paramref name="trainable"/> false: parameters only).</summary>
    public static TransformerModel Load(string path, IBackend? backend = null, bool trainable = true)
    {
        var header = ReadHeader(path);
        return ModelCheckpoint.Filled(new TransformerModel(header.ToConfig(), backend, trainable), model => LoadWeights(model, path));
    }

    /// <summary>
    /// Loads an llm.c model file into a GPT-2 of the same sizes (maxT, V, L, NH, C; the file's Vp may differ from ours).
    /// The header and the file length are checked before any parameter is touched.
    /// </summary>
    public static void LoadWeights(TransformerModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var header = ReadHeader(path, stream);
        CheckGpt2(model.Config, path);
        var expected = header.ToConfig();
        var config = model.Config;
        if ((config.VocabSize, config.ContextLength, config.LayerCount, config.HeadCount, config.Width) != (expected.VocabSize, expected.ContextLength, expected.LayerCount, expected.HeadCount, expected.Width))
            throw new InvalidDataException($"{path}: the file holds a GPT-2 with V {header.VocabSize}, maxT {header.MaxT}, L {header.LayerCount}, NH {header.HeadCount}, C {header.Width}; the model has V {config.VocabSize}, maxT {config.ContextLength}, L {config.LayerCount}, NH {config.HeadCount}, C {config.Width}");

        stream.Position = HeaderBytes;
        int c = config.Width;
        var wte = model.GetParameter("wte.weight");
        // our padded rows (beyond V) start at zero; the file's padded rows are skipped
        ReadInto(stream, header, wte.Slice(0, new TensorShape(header.VocabSize * c)), model.Backend, path);
        if (config.PaddedVocabSize > header.VocabSize)
            model.Backend.Clear(wte.Slice((long)header.VocabSize * c, new TensorShape((config.PaddedVocabSize - header.VocabSize) * c)));
        stream.Seek((long)(header.PaddedVocabSize - header.VocabSize) * c * header.BytesPerValue, SeekOrigin.Current);
        ReadInto(stream, header, model.GetParameter("wpe.weight"), model.Backend, path);
        foreach (string kind in LayerTensors)
        {
            for (int l = 0; l < config.LayerCount; l++) ReadInto(stream, header, model.GetParameter(TransformerNames.Layer(kind, l)), model.Backend, path);
        }
        ReadInto(stream, header, model.GetParameter("ln_f.weight"), model.Backend, path);
        ReadInto(stream, header, model.GetParameter("ln_f.bias"), model.Backend, path);
        ModelCheckpoint.RequireFinite(ParameterStore.Of(model), path);
    }

    /// <summary>
    /// Writes the model as llm.c's write_model does (header, then the parameters; wte padded with zero rows to llm.c's Vp,
    /// V rounded up to a multiple of 128), in float32 (version 3) or bfloat16 (version 5, round to nearest even), to a
    /// temporary name in the same directory that is then renamed into place.
    /// </summary>
    public static void Save(TransformerModel model, string path, LlmcPrecision precision = LlmcPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("llm.c model files need a little-endian machine");
        var config = model.Config;
        CheckGpt2(config, path);
        int vp = (config.VocabSize + VocabularyMultiple - 1) / VocabularyMultiple * VocabularyMultiple;
        var header = new LlmcModelHeader(precision == LlmcPrecision.BFloat16 ? BFloat16Version : Float32Version,
            config.ContextLength, config.VocabSize, config.LayerCount, config.HeadCount, config.Width, vp);
        var headerBytes = new byte[HeaderBytes];
        int[] values = [Magic, header.Version, header.MaxT, header.VocabSize, header.LayerCount, header.HeadCount, header.Width, header.PaddedVocabSize];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(headerBytes.AsSpan(i * 4), values[i]);

        string fullPath = Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(headerBytes);
                int c = config.Width;
                float[] wte = model.Backend.ToHost(model.GetParameter("wte.weight").Slice(0, new TensorShape(config.VocabSize * c)));
                Write(stream, wte, precision);
                Write(stream, new float[(long)(vp - config.VocabSize) * c], precision);
                Write(stream, model.Backend.ToHost(model.GetParameter("wpe.weight")), precision);
                foreach (string kind in LayerTensors)
                {
                    for (int l = 0; l < config.LayerCount; l++) Write(stream, model.Backend.ToHost(model.GetParameter(TransformerNames.Layer(kind, l))), precision);
                }
                Write(stream, model.Backend.ToHost(model.GetParameter("ln_f.weight")), precision);
                Write(stream, model.Backend.ToHost(model.GetParameter("ln_f.bias")), precision);
                if (stream.Length != header.FileLength)
                    throw new InvalidOperationException($"{path}: wrote {stream.Length} bytes, expected {header.FileLength}");
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>float32 → bfloat16, rounding to nearest even (as PyTorch's <c>.to(torch.bfloat16)</c>); NaN stays a quiet NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>bfloat16 → float32 (exact).</summary>
    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    private static void CheckGpt2(TransformerConfig config, string path)
    {
        var gpt2 = TransformerConfig.Gpt2(config.VocabSize, config.ContextLength, config.LayerCount, config.HeadCount, config.Width);
        if (config with { VocabPadding = gpt2.VocabPadding } != gpt2)
            throw new ArgumentException($"{path}: an llm.c model file holds only a GPT-2 as llm.c builds it (LayerNorm eps 1e-5, tanh GELU, MLP of 4·C, tied head); this is {Describe(config)}");
    }

    private static string Describe(TransformerConfig config) =>
        config.Family == TransformerFamilies.Gpt2
            ? $"a GPT-2 with MLP {config.IntermediateSize}, eps {config.NormEpsilon}, activation {config.Activation}"
            : $"a {config.Family} model";

    private static void ReadInto(FileStream stream, LlmcModelHeader header, Tensor destination, IBackend backend, string path)
    {
        int count = checked((int)destination.Shape.Length);
        var values = new float[count];
        if (header.Precision == LlmcPrecision.Float32)
        {
            ReadExactly(stream, MemoryMarshal.AsBytes(values.AsSpan()), path);
        }
        else
        {
            var halves = new ushort[count];
            ReadExactly(stream, MemoryMarshal.AsBytes(halves.AsSpan()), path);
            for (int i = 0; i < count; i++) values[i] = FromBFloat16(halves[i]);
        }
        backend.CopyFromHost(destination, values);
    }

    private static void ReadExactly(FileStream stream, Span<byte> destination, string path)
    {
        if (stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) != destination.Length)
            throw new InvalidDataException($"{path}: truncated while reading parameters at byte {stream.Position}");
    }

    private static void Write(Stream stream, float[] values, LlmcPrecision precision)
    {
        if (precision == LlmcPrecision.Float32)
        {
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }
        const int chunk = 1 << 16;
        var halves = new ushort[Math.Min(chunk, values.Length)];
        for (int start = 0; start < values.Length; start += chunk)
        {
            int n = Math.Min(chunk, values.Length - start);
            for (int i = 0; i < n; i++) halves[i] = ToBFloat16(values[start + i]);
            stream.Write(MemoryMarshal.AsBytes(halves.AsSpan(0, n)));
        }
    }
}
