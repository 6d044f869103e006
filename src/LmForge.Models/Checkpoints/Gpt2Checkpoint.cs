using System.Globalization;
using LmForge.Models.Gpt;
using LmForge.Tensors;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// Saves and loads a <see cref="GptModel"/> as a Hugging Face GPT-2 checkpoint: <c>model.safetensors</c> with GPT-2's
/// tensor names and layout, plus <c>config.json</c>.
/// Hugging Face stores the four linear weights of a block as Conv1D, (in, out); our model stores them as nn.Linear,
/// (out, in): the transposes happen here and nowhere else. <c>wte.weight</c> holds only the real vocabulary rows
/// (the model's padding rows are dropped on save and zeroed on load). Loading accepts what real Hugging Face files
/// contain beyond the weights: the <c>transformer.</c> prefix, the <c>attn.bias</c>/<c>attn.masked_bias</c> mask
/// buffers and a tied <c>lm_head.weight</c>.
/// </summary>
/// <example>
/// <code>
/// Gpt2Checkpoint.Save(model, "checkpoints/step-1000");
/// using GptModel restored = Gpt2Checkpoint.Load("checkpoints/step-1000");
/// </code>
/// </example>
public static class Gpt2Checkpoint
{
    public const string WeightsFileName = "model.safetensors";

    private const string TransformerPrefix = "transformer.";
    private const string TiedOutputName = "lm_head.weight";

    /// <summary>
    /// Writes config.json and model.safetensors into <paramref name="directory"/> (created if needed), each file under
    /// a temporary name renamed into place. To publish a whole checkpoint at once, save into a temporary directory and
    /// rename it.
    /// </summary>
    public static void Save(GptModel model, string directory, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        SaveWeights(model, Path.Combine(directory, WeightsFileName), metadata);
        Gpt2ConfigJson.Write(Path.Combine(directory, Gpt2ConfigJson.FileName), model.Config);
    }

    /// <summary>Reads config.json from <paramref name="directory"/>, builds that model and loads model.safetensors into it.</summary>
    public static GptModel Load(string directory, IBackend? backend = null)
    {
        var config = Gpt2ConfigJson.Read(Path.Combine(directory, Gpt2ConfigJson.FileName));
        var model = new GptModel(config, backend);
        try
        {
            LoadWeights(model, Path.Combine(directory, WeightsFileName));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes the model's parameters as a GPT-2 safetensors file (metadata "format": "pt", as transformers expects).</summary>
    public static unsafe void SaveWeights(GptModel model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var config = model.Config;
        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata != null)
        {
            foreach (var (key, value) in metadata) allMetadata[key] = value;
        }

        var entries = new List<SafeTensorEntry>();
        foreach (var (name, fileShape, transposed) in ExpectedTensors(config))
        {
            var parameter = model.GetParameter(name);
            long count = (long)fileShape[0] * (fileShape.Length > 1 ? fileShape[1] : 1);
            if (transposed)
            {
                // file (in, out) = parameter (out, in) transposed
                int outFeatures = fileShape[1], inFeatures = fileShape[0];
                float* source = parameter.Pointer;
                entries.Add(new SafeTensorEntry(name, fileShape, count, (start, destination) =>
                    CopyTransposedChunk(source, outFeatures, inFeatures, start, destination)));
            }
            else
            {
                // wte: only the first VocabSize rows of the padded table
                entries.Add(new SafeTensorEntry(name, fileShape, parameter.Pointer, count));
            }
        }
        SafeTensorsFile.Write(path, entries, allMetadata);
        GC.KeepAlive(model);
    }

    /// <summary>
    /// Loads a GPT-2 safetensors file into <paramref name="model"/>, checking that every tensor is present with the
    /// shape the model's configuration implies and a floating dtype (F16/BF16 are converted), and that nothing
    /// unexpected is there. A file of another model shape is rejected with one line naming both shapes.
    /// </summary>
    public static unsafe void LoadWeights(GptModel model, string path)
    {
        var config = model.Config;
        using var file = SafeTensorsFile.Open(path);
        var byCanonicalName = MapFileNames(file, config);
        CheckModelShape(file, byCanonicalName, config);

        // Every tensor is checked before any is copied, so a bad file leaves the model as it was.
        foreach (var (name, fileShape, _) in ExpectedTensors(config))
        {
            if (!byCanonicalName.TryGetValue(name, out string? fileName))
                throw new InvalidDataException($"{path}: tensor '{name}' is missing (expected {Describe(config)})");
            file.CheckFloatTensor(fileName, fileShape);
        }

        long largestMatrix = 4L * config.Width * config.Width;
        float[] scratch = new float[largestMatrix];
        foreach (var (name, fileShape, transposed) in ExpectedTensors(config))
        {
            string fileName = byCanonicalName[name];
            var parameter = model.GetParameter(name);
            if (transposed)
            {
                int inFeatures = fileShape[0], outFeatures = fileShape[1];
                var staged = scratch.AsSpan(0, inFeatures * outFeatures);
                file.ReadFloat32(fileName, staged, fileShape);
                fixed (float* source = staged) Transpose(source, parameter.Pointer, inFeatures, outFeatures);
            }
            else
            {
                var span = parameter.AsSpan();
                int count = fileShape[0] * (fileShape.Length > 1 ? fileShape[1] : 1);
                file.ReadFloat32(fileName, span[..count], fileShape);
                span[count..].Clear(); // the padded vocabulary rows of wte
            }
        }
    }

    /// <summary>Every tensor of a GPT-2 checkpoint in Hugging Face order, with its shape in the file and whether it is a transposed (Conv1D) matrix.</summary>
    private static IEnumerable<(string Name, int[] FileShape, bool Transposed)> ExpectedTensors(GptConfig config)
    {
        int c = config.Width;
        yield return ("wte.weight", [config.VocabSize, c], false);
        yield return ("wpe.weight", [config.ContextLength, c], false);
        for (int i = 0; i < config.LayerCount; i++)
        {
            string h = $"h.{i}.";
            yield return (h + "ln_1.weight", [c], false);
            yield return (h + "ln_1.bias", [c], false);
            yield return (h + "attn.c_attn.weight", [c, 3 * c], true);
            yield return (h + "attn.c_attn.bias", [3 * c], false);
            yield return (h + "attn.c_proj.weight", [c, c], true);
            yield return (h + "attn.c_proj.bias", [c], false);
            yield return (h + "ln_2.weight", [c], false);
            yield return (h + "ln_2.bias", [c], false);
            yield return (h + "mlp.c_fc.weight", [c, 4 * c], true);
            yield return (h + "mlp.c_fc.bias", [4 * c], false);
            yield return (h + "mlp.c_proj.weight", [4 * c, c], true);
            yield return (h + "mlp.c_proj.bias", [c], false);
        }
        yield return ("ln_f.weight", [c], false);
        yield return ("ln_f.bias", [c], false);
    }

    // Canonical name (no "transformer." prefix) → name in the file, skipping the mask buffers and the tied lm_head,
    // and rejecting duplicates and tensors no GPT-2 of this configuration has.
    private static Dictionary<string, string> MapFileNames(SafeTensorsFile file, GptConfig config)
    {
        var expected = ExpectedTensors(config).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string fileName in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            string name = fileName.StartsWith(TransformerPrefix, StringComparison.Ordinal) ? fileName[TransformerPrefix.Length..] : fileName;
            if (name == TiedOutputName || IsAttentionMaskBuffer(name)) continue;
            if (!expected.Contains(name))
                throw new InvalidDataException($"{file.Path}: tensor '{fileName}' is not part of {Describe(config)}");
            if (!map.TryAdd(name, fileName))
                throw new InvalidDataException($"{file.Path}: tensor '{name}' appears both as '{map[name]}' and as '{fileName}'");
        }
        return map;
    }

    // transformers registers the causal mask as h.{i}.attn.bias (and h.{i}.attn.masked_bias); older files contain them.
    private static bool IsAttentionMaskBuffer(string name)
    {
        if (!name.StartsWith("h.", StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', 2);
        if (dot < 0 || !int.TryParse(name.AsSpan(2, dot - 2), NumberStyles.None, CultureInfo.InvariantCulture, out _)) return false;
        string rest = name[(dot + 1)..];
        return rest is "attn.bias" or "attn.masked_bias";
    }

    // Names the shapes on both sides when the file is of another model, before any per-tensor message.
    private static void CheckModelShape(SafeTensorsFile file, Dictionary<string, string> map, GptConfig config)
    {
        if (!map.TryGetValue("wte.weight", out string? wteName) || !map.TryGetValue("wpe.weight", out string? wpeName)) return;
        var wte = file.Tensors[wteName].Shape;
        var wpe = file.Tensors[wpeName].Shape;
        if (wte.Count != 2 || wpe.Count != 2) return;
        if (wte[0] == config.VocabSize && wte[1] == config.Width && wpe[0] == config.ContextLength && wpe[1] == config.Width) return;
        throw new InvalidDataException(
            $"{file.Path}: checkpoint is a GPT-2 with vocabulary {wte[0]}, width {wte[1]}, context {wpe[0]}, but the model expects {Describe(config)}");
    }

    private static string Describe(GptConfig config) =>
        $"a GPT-2 with vocabulary {config.VocabSize}, width {config.Width}, context {config.ContextLength}, {config.LayerCount} layers";

    // destination (out, in) = source (in, out)ᵀ, in 32×32 tiles so both sides stay in cache.
    private static unsafe void Transpose(float* source, float* destination, int inFeatures, int outFeatures)
    {
        const int tile = 32;
        for (int i0 = 0; i0 < inFeatures; i0 += tile)
        {
            int i1 = Math.Min(i0 + tile, inFeatures);
            for (int o0 = 0; o0 < outFeatures; o0 += tile)
            {
                int o1 = Math.Min(o0 + tile, outFeatures);
                for (int i = i0; i < i1; i++)
                {
                    float* row = source + ((long)i * outFeatures);
                    for (int o = o0; o < o1; o++) destination[((long)o * inFeatures) + i] = row[o];
                }
            }
        }
    }

    // Elements [start, start + destination.Length) of the (in, out) transpose of parameter (out, in).
    private static unsafe void CopyTransposedChunk(float* parameter, int outFeatures, int inFeatures, long start, Span<float> destination)
    {
        int i = (int)(start / outFeatures), o = (int)(start % outFeatures);
        for (int e = 0; e < destination.Length; e++)
        {
            destination[e] = parameter[((long)o * inFeatures) + i];
            if (++o == outFeatures) { o = 0; i++; }
        }
    }
}
