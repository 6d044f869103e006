using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>What one Hugging Face model family's checkpoint looks like: its config.json fields and its tensor map.</summary>
internal interface ICheckpointFormat
{
    /// <summary>The config.json "model_type" (also our <see cref="TransformerConfig.Family"/>).</summary>
    string ModelType { get; }

    string Describe(TransformerConfig config);

    /// <summary>Every tensor of the file, in the order Hugging Face writes them, and where it lives in our model.</summary>
    IReadOnlyList<CheckpointTensor> Tensors(TransformerConfig config);

    /// <summary>The map's name for a file tensor, or null for a tensor that carries no weights of ours.</summary>
    string? CanonicalName(string fileName);

    /// <summary>For a skipped file tensor that must equal a map tensor (a tied head saved anyway), that tensor's map name; else null.</summary>
    string? TiedTo(string fileName) => null;

    /// <summary>Throws ArgumentException when the config uses options this format cannot express.</summary>
    void CheckSupported(TransformerConfig config);

    TransformerConfig ReadConfig(ConfigJson json);

    void WriteConfig(Utf8JsonWriter json, TransformerConfig config);
}

/// <summary>
/// A model as a Hugging Face checkpoint directory: <c>config.json</c> (whose "model_type" says the family: "gpt2", "llama",
/// "bert" or "t5"; never guessed from a file name) and <c>model.safetensors</c> with that family's tensor names and layout.
/// </summary>
/// <example>
/// <code>
/// ModelCheckpoint.Save(model, "checkpoints/step-1000");
/// using TransformerModel restored = ModelCheckpoint.Load("checkpoints/step-1000");
/// </code>
/// </example>
public static class ModelCheckpoint
{
    public const string WeightsFileName = "model.safetensors";
    public const string ConfigFileName = "config.json";

    private static readonly ICheckpointFormat[] Formats = [Gpt2Format.Instance, LlamaFormat.Instance, BertFormat.Instance, T5Format.Instance];

    /// <summary>
    /// Writes config.json and model.safetensors into <paramref name="directory"/> (created if needed), each file under
    /// a temporary name renamed into place. To publish a whole checkpoint at once, save into a temporary directory and
    /// rename it.
    /// </summary>
    public static void Save(TransformerModel model, string directory, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(ParameterStore.Of(model), model.Config, directory, metadata);

    /// <summary>Writes an encoder-decoder (T5) as <see cref="Save(TransformerModel, string, IReadOnlyDictionary{string, string}?)"/> does.</summary>
    public static void Save(EncoderDecoderModel model, string directory, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(ParameterStore.Of(model), model.Config, directory, metadata);

    private static void Save(ParameterStore model, TransformerConfig config, string directory, IReadOnlyDictionary<string, string>? metadata)
    {
        Directory.CreateDirectory(directory);
        SaveWeights(model, config, Path.Combine(directory, WeightsFileName), metadata);
        WriteConfig(Path.Combine(directory, ConfigFileName), config);
    }

    /// <summary>
    /// Reads config.json from <paramref name="directory"/>, builds that model and loads model.safetensors into it.
    /// <paramref name="trainable"/> false loads it for inference: parameters only, no gradient memory.
    /// </summary>
    public static TransformerModel Load(string directory, IBackend? backend = null, bool trainable = true)
    {
        var config = ReadConfig(ConfigPath(directory));
        if (config.IsEncoderDecoder)
            throw new InvalidDataException($"{ConfigPath(directory)}: a {config.Family} checkpoint is an encoder-decoder; load it with ModelCheckpoint.LoadEncoderDecoder");
        CheckWeightsCanHold(config, directory);
        return Filled(new TransformerModel(config, backend, trainable), model => LoadWeights(model, Path.Combine(directory, WeightsFileName)));
    }

    /// <summary>Reads config.json and model.safetensors of an encoder-decoder (T5) checkpoint directory, as <see cref="Load"/>.</summary>
    public static EncoderDecoderModel LoadEncoderDecoder(string directory, IBackend? backend = null, bool trainable = true)
    {
        var config = ReadConfig(ConfigPath(directory));
        if (!config.IsEncoderDecoder)
            throw new InvalidDataException($"{ConfigPath(directory)}: a {config.Family} checkpoint has one stack, not an encoder and a decoder; load it with ModelCheckpoint.Load");
        CheckWeightsCanHold(config, directory);
        return Filled(new EncoderDecoderModel(config, backend, trainable), model => LoadWeights(model, Path.Combine(directory, WeightsFileName)));
    }

    /// <summary>
    /// Refuses, before the model is allocated, a config.json whose sizes need more parameters than the directory's
    /// model.safetensors could hold at 2 bytes each (F16/BF16, the smallest dtype read): a damaged or foreign config must
    /// not make a load allocate by its numbers. The count is a lower bound (embeddings, learned positions, token types,
    /// relative-position tables, and per layer the query and output projections and the MLP's two matrices), computed in
    /// double so no size overflows.
    /// </summary>
    static void CheckWeightsCanHold(TransformerConfig config, string directory)
    {
        string weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException($"{weightsPath}: missing; a checkpoint directory holds {ConfigFileName} and {WeightsFileName}", weightsPath);
        double width = config.Width, attention = (double)config.HeadCount * config.HeadSize;
        double least = ((double)config.VocabSize + config.TokenTypeCount) * width
            + (config.Positions == PositionKind.Learned ? (double)config.ContextLength * width : 0)
            + (double)config.RelativeAttentionBuckets * config.HeadCount
            + ((double)config.LayerCount + config.DecoderLayerCount) * (2 * width * attention + 2 * width * config.IntermediateSize);
        long bytes = new FileInfo(weightsPath).Length;
        if (least * 2 > bytes)
            throw new InvalidDataException($"{ConfigPath(directory)}: its sizes need at least {least:0} parameters, more than the {bytes} bytes of {weightsPath} can hold; the config is damaged or belongs to other weights");
    }

    // A new model with its weights loaded, or disposed when they cannot be.
    internal static T Filled<T>(T model, Action<T> load) where T : IDisposable
    {
        try
        {
            load(model);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The config.json of a checkpoint directory; a missing one is a one-line error.</summary>
    public static string ConfigPath(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{configPath}: missing; a checkpoint directory holds {ConfigFileName} and {WeightsFileName}", configPath);
        return configPath;
    }

    /// <summary>Writes the model's parameters in its family's Hugging Face layout.</summary>
    public static void SaveWeights(TransformerModel model, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        SaveWeights(ParameterStore.Of(model), model.Config, path, metadata);

    private static void SaveWeights(ParameterStore model, TransformerConfig config, string path, IReadOnlyDictionary<string, string>? metadata)
    {
        var format = FormatOf(config);
        format.CheckSupported(config);
        HuggingFaceWeights.Save(model, path, format.Tensors(config), metadata);
    }

    /// <summary>
    /// Loads a safetensors file of the model's family into <paramref name="model"/>, checking that every tensor is present
    /// with the shape the model's config implies and a floating dtype (F16/BF16/F64 are converted), and that nothing
    /// unexpected is there; a bad file leaves the model as it was.
    /// </summary>
    public static void LoadWeights(TransformerModel model, string path) => LoadWeights(ParameterStore.Of(model), model.Config, path);

    /// <summary>Loads an encoder-decoder's safetensors file, as <see cref="LoadWeights(TransformerModel, string)"/>.</summary>
    public static void LoadWeights(EncoderDecoderModel model, string path) => LoadWeights(ParameterStore.Of(model), model.Config, path);

    private static void LoadWeights(ParameterStore model, TransformerConfig config, string path)
    {
        var format = FormatOf(config);
        format.CheckSupported(config);
        HuggingFaceWeights.Load(model, path, format.Tensors(config), format.CanonicalName, format.Describe(config), format.TiedTo);
        RequireFinite(model, path);
    }

    /// <summary>
    /// Damaged weights (a NaN, an infinity, or values so large their squares overflow) make every loss and sample
    /// meaningless: one pass over the parameters on the backend finds them, and the load is a one-line error.
    /// </summary>
    internal static void RequireFinite(ParameterStore model, string path)
    {
        foreach (var parameter in model.ParameterLayout)
        {
            if (!double.IsFinite(model.Backend.SumOfSquares(model.GetParameter(parameter.Name))))
                throw new InvalidDataException($"{path}: tensor '{parameter.Name}' holds NaN, infinite or absurdly large values: the weights are damaged; use another checkpoint");
        }
    }

    /// <summary>Reads a Hugging Face config.json of a family we implement; anything else is a one-line error naming the file and the field.</summary>
    public static TransformerConfig ReadConfig(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}");
        }
        using (document)
        {
            var json = new ConfigJson(path, document.RootElement);
            if (json.Root.ValueKind != JsonValueKind.Object) throw json.Error("not a JSON object");
            string known = string.Join(", ", Formats.Select(f => $"\"{f.ModelType}\""));
            if (!json.Root.TryGetProperty("model_type", out var modelType))
                throw json.Error($"field 'model_type' is missing, expected one of {known}");
            var format = Formats.FirstOrDefault(f => modelType.ValueKind == JsonValueKind.String && modelType.ValueEquals(f.ModelType))
                ?? throw json.Error($"field 'model_type' is {ConfigJson.Value(modelType)}, expected one of {known}");
            try
            {
                return format.ReadConfig(json);
            }
            catch (ArgumentException e)
            {
                throw json.Error(e.Message.Split('\n')[0]);
            }
        }
    }

    /// <summary>Writes <paramref name="config"/> as its family's config.json (to a temporary name, then renamed into place).</summary>
    public static void WriteConfig(string path, TransformerConfig config, int? bosTokenId = null, int? eosTokenId = null)
    {
        config.Validate();
        var format = FormatOf(config);
        format.CheckSupported(config);
        string fullPath = Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
                {
                    json.WriteStartObject();
                    format.WriteConfig(json, config);
                    if (bosTokenId is int bos) json.WriteNumber("bos_token_id", bos);
                    if (eosTokenId is int eos) json.WriteNumber("eos_token_id", eos);
                    json.WriteString("torch_dtype", "float32");
                    json.WriteEndObject();
                }
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

    private static ICheckpointFormat FormatOf(TransformerConfig config) =>
        Formats.FirstOrDefault(f => f.ModelType == config.Family)
        ?? throw new ArgumentException($"no checkpoint format for model family \"{config.Family}\"", nameof(config));
}
