using System.Runtime.InteropServices;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// One tensor of a Hugging Face checkpoint and where it lives in the model: rows [RowStart, RowStart + rows) of a
/// parameter, stored as is or transposed (GPT-2's Conv1D keeps linear weights as (in, out); ours are (out, in)).
/// A file tensor may fill only part of a parameter: Llama's q_proj, k_proj and v_proj are row blocks of our fused
/// qkv matrix, and a vocabulary table fills the real rows of our padded one.
/// </summary>
internal sealed record CheckpointTensor(string FileName, int[] FileShape, string Parameter, int RowStart, bool Transposed)
{
    /// <summary>Rows of the parameter this tensor fills.</summary>
    public int ParameterRows => Transposed ? FileShape[1] : FileShape[0];

    /// <summary>Elements per parameter row.</summary>
    public int ParameterColumns => Transposed ? FileShape[0] : FileShape.Length > 1 ? FileShape[1] : 1;

    public long ElementCount => (long)ParameterRows * ParameterColumns;
}

/// <summary>What checkpoint code reaches of a model (a <see cref="TransformerModel"/> or an <see cref="EncoderDecoderModel"/>): its backend, its parameter layout, and a view of each parameter.</summary>
internal sealed record ParameterStore(IBackend Backend, IReadOnlyList<ModelParameter> ParameterLayout, Func<string, Tensor> GetParameter)
{
    public static ParameterStore Of(TransformerModel model) => new(model.Backend, model.ParameterLayout, model.GetParameter);

    public static ParameterStore Of(EncoderDecoderModel model) => new(model.Backend, model.ParameterLayout, model.GetParameter);
}

/// <summary>
/// Reads and writes a model's parameters as a Hugging Face safetensors file through a family's tensor map. The file is
/// treated as hostile: every tensor is checked (present once, known, right shape, floating dtype) before any is copied,
/// so a bad file leaves the model as it was, and each error is one line naming the file and the tensor.
/// Parameters are reached only through copies to and from host memory.
/// </summary>
internal static class HuggingFaceWeights
{
    /// <summary>Writes the tensors of <paramref name="map"/> in order (metadata "format": "pt", as transformers expects).</summary>
    public static void Save(ParameterStore model, string path, IReadOnlyList<CheckpointTensor> map, IReadOnlyDictionary<string, string>? metadata)
    {
        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata != null)
        {
            foreach (var (key, value) in metadata) allMetadata[key] = value;
        }
        var entries = new List<SafeTensorEntry>(map.Count);
        foreach (var tensor in map)
        {
            float[] rows = ReadRows(model, tensor);
            if (tensor.Transposed)
            {
                int outFeatures = tensor.ParameterRows, inFeatures = tensor.ParameterColumns;
                var transposed = new float[rows.Length];
                Transpose(rows, transposed, outFeatures, inFeatures);
                rows = transposed;
            }
            entries.Add(new SafeTensorEntry(tensor.FileName, tensor.FileShape, rows));
        }
        SafeTensorsFile.Write(path, entries, allMetadata);
    }

    /// <summary>
    /// Loads every tensor of <paramref name="map"/> from the file. <paramref name="canonicalName"/> turns a file's tensor
    /// name into the map's (null: a tensor to skip, such as a tied head or a saved attention mask); <paramref name="tiedTo"/>
    /// names the map tensor a skipped one must equal bit for bit (a tied head saved beside the embedding it is tied to).
    /// </summary>
    public static void Load(ParameterStore model, string path, IReadOnlyList<CheckpointTensor> map, Func<string, string?> canonicalName, string description,
        Func<string, string?>? tiedTo = null)
    {
        using var file = SafeTensorsFile.Open(path);
        var expected = map.Select(t => t.FileName).ToHashSet(StringComparer.Ordinal);
        var fileNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string fileName in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            string? name = canonicalName(fileName);
            if (name is null) continue;
            if (!expected.Contains(name))
                throw new InvalidDataException($"{file.Path}: tensor '{fileName}' is not part of {description}");
            if (!fileNames.TryAdd(name, fileName))
                throw new InvalidDataException($"{file.Path}: tensor '{name}' appears both as '{fileNames[name]}' and as '{fileName}'");
        }
        foreach (var tensor in map)
        {
            if (!fileNames.TryGetValue(tensor.FileName, out string? fileName))
                throw new InvalidDataException($"{file.Path}: tensor '{tensor.FileName}' is missing (expected {description})");
            file.CheckFloatTensor(fileName, tensor.FileShape);
        }
        if (tiedTo != null)
        {
            foreach (string fileName in file.Tensors.Keys.Order(StringComparer.Ordinal))
            {
                if (tiedTo(fileName) is not string tiedName || !fileNames.TryGetValue(tiedName, out string? tiedFileName)) continue;
                int[] shape = map.First(t => t.FileName == tiedName).FileShape;
                file.CheckFloatTensor(fileName, shape);
                float[] copy = file.ReadFloat32(fileName, shape), original = file.ReadFloat32(tiedFileName, shape);
                if (!MemoryMarshal.AsBytes(copy.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(original.AsSpan())))
                    throw new InvalidDataException($"{file.Path}: tensor '{fileName}' differs from '{tiedFileName}', but {description} ties its output projection to the embedding");
            }
        }

        // padded rows (beyond the real vocabulary) are not in the file: they start at zero
        foreach (var p in model.ParameterLayout)
        {
            if (p.RealRows >= p.Shape[0]) continue;
            long rowLength = p.Length / p.Shape[0];
            model.Backend.Clear(model.GetParameter(p.Name).Slice(p.RealRows * rowLength, new TensorShape((int)((p.Shape[0] - p.RealRows) * rowLength))));
        }
        foreach (var tensor in map)
        {
            float[] values = file.ReadFloat32(fileNames[tensor.FileName], tensor.FileShape);
            if (tensor.Transposed)
            {
                var transposed = new float[values.Length];
                Transpose(values, transposed, tensor.FileShape[0], tensor.FileShape[1]);
                values = transposed;
            }
            model.Backend.CopyFromHost(Rows(model, tensor), values);
        }
    }

    // The part of the parameter a file tensor fills, as a flat view.
    private static Tensor Rows(ParameterStore model, CheckpointTensor tensor) =>
        model.GetParameter(tensor.Parameter).Slice((long)tensor.RowStart * tensor.ParameterColumns, new TensorShape((int)tensor.ElementCount));

    private static float[] ReadRows(ParameterStore model, CheckpointTensor tensor) => model.Backend.ToHost(Rows(model, tensor));

    // destination (cols, rows) = source (rows, cols)ᵀ, in 32×32 tiles so both sides stay in cache.
    private static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols)
    {
        const int tile = 32;
        for (int r0 = 0; r0 < rows; r0 += tile)
        {
            int r1 = Math.Min(r0 + tile, rows);
            for (int c0 = 0; c0 < cols; c0 += tile)
            {
                int c1 = Math.Min(c0 + tile, cols);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++) destination[(c * rows) + r] = source[(r * cols) + c];
                }
            }
        }
    }
}
