using System.Text.Json;
using LmForge.Models.Gpt;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// The Hugging Face GPT-2 <c>config.json</c> (model_type "gpt2", GPT2LMHeadModel): written so that a GPT-2 user, or
/// transformers' GPT2Config, recognizes it; read strictly, rejecting every setting our GPT-2 does not implement
/// (another activation, another layer-norm epsilon, untied output weights, ...) with a one-line error naming the field.
/// </summary>
public static class Gpt2ConfigJson
{
    public const string FileName = "config.json";

    /// <summary>Our layer norm uses this epsilon, as GPT-2 does.</summary>
    public const double LayerNormEpsilon = 1e-5;

    // The tanh approximation of GELU under the names transformers gives it.
    private static readonly string[] TanhGeluNames = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

    /// <summary>Writes <paramref name="config"/> as config.json (to a temporary name, then renamed into place).</summary>
    public static void Write(string path, GptConfig config, int? bosTokenId = null, int? eosTokenId = null)
    {
        config.Validate();
        string fullPath = Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("model_type", "gpt2");
                json.WriteStartArray("architectures");
                json.WriteStringValue("GPT2LMHeadModel");
                json.WriteEndArray();
                json.WriteNumber("vocab_size", config.VocabSize);
                json.WriteNumber("n_positions", config.ContextLength);
                json.WriteNumber("n_ctx", config.ContextLength);
                json.WriteNumber("n_embd", config.Width);
                json.WriteNumber("n_layer", config.LayerCount);
                json.WriteNumber("n_head", config.HeadCount);
                json.WriteNull("n_inner");
                json.WriteString("activation_function", "gelu_new");
                json.WriteNumber("layer_norm_epsilon", LayerNormEpsilon);
                json.WriteNumber("initializer_range", 0.02);
                // LmForge trains without dropout; a user fine-tuning elsewhere may set these.
                json.WriteNumber("resid_pdrop", 0.0);
                json.WriteNumber("embd_pdrop", 0.0);
                json.WriteNumber("attn_pdrop", 0.0);
                json.WriteBoolean("scale_attn_weights", true);
                json.WriteBoolean("tie_word_embeddings", true);
                json.WriteBoolean("use_cache", true);
                if (bosTokenId is int bos) json.WriteNumber("bos_token_id", bos);
                if (eosTokenId is int eos) json.WriteNumber("eos_token_id", eos);
                json.WriteString("torch_dtype", "float32");
                json.WriteEndObject();
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Reads a GPT-2 config.json into a <see cref="GptConfig"/> (with the default vocabulary padding).</summary>
    public static GptConfig Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Error(path, $"not valid JSON ({e.Message.Replace('\n', ' ')})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error(path, "not a JSON object");

            if (root.TryGetProperty("model_type", out var modelType) && !(modelType.ValueKind == JsonValueKind.String && modelType.GetString() == "gpt2"))
                throw Error(path, $"field 'model_type' is {modelType.GetRawText()}, expected \"gpt2\"");

            int vocab = RequiredInt(path, root, "vocab_size");
            int width = RequiredInt(path, root, "n_embd");
            int layers = RequiredInt(path, root, "n_layer");
            int heads = RequiredInt(path, root, "n_head");
            int context = root.TryGetProperty("n_positions", out _) ? RequiredInt(path, root, "n_positions") : RequiredInt(path, root, "n_ctx");
            if (width % heads != 0)
                throw Error(path, $"field 'n_head' is {heads}, which does not divide 'n_embd' = {width}");

            string activation = OptionalString(path, root, "activation_function") ?? "gelu_new";
            if (!TanhGeluNames.Contains(activation))
                throw Error(path, $"field 'activation_function' is \"{activation}\", expected one of {string.Join(", ", TanhGeluNames)} (LmForge's GPT-2 uses the tanh GELU)");
            if (root.TryGetProperty("layer_norm_epsilon", out var epsilon)
                && (epsilon.ValueKind != JsonValueKind.Number || Math.Abs(epsilon.GetDouble() - LayerNormEpsilon) > 1e-12))
                throw Error(path, $"field 'layer_norm_epsilon' is {epsilon.GetRawText()}, expected {LayerNormEpsilon:R}");
            if (root.TryGetProperty("n_inner", out var inner) && inner.ValueKind != JsonValueKind.Null
                && !(inner.ValueKind == JsonValueKind.Number && inner.TryGetInt32(out int innerWidth) && innerWidth == 4 * width))
                throw Error(path, $"field 'n_inner' is {inner.GetRawText()}, expected null or {4 * width} (4 × n_embd)");
            RequireBool(path, root, "tie_word_embeddings", expected: true, "the output projection is tied to wte");
            RequireBool(path, root, "scale_attn_weights", expected: true, "attention is scaled by 1/sqrt(head size)");
            RequireBool(path, root, "scale_attn_by_inverse_layer_idx", expected: false, "attention is not scaled by layer index");

            var config = new GptConfig(vocab, context, layers, heads, width);
            config.Validate();
            return config;
        }
    }

    private static int RequiredInt(string path, JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value))
            throw Error(path, $"field '{field}' is missing");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number) || number < 1)
            throw Error(path, $"field '{field}' is {value.GetRawText()}, expected a positive integer");
        return number;
    }

    private static string? OptionalString(string path, JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String) throw Error(path, $"field '{field}' is {value.GetRawText()}, expected a string");
        return value.GetString();
    }

    private static void RequireBool(string path, JsonElement root, string field, bool expected, string why)
    {
        if (!root.TryGetProperty(field, out var value)) return;
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False) || value.GetBoolean() != expected)
            throw Error(path, $"field '{field}' is {value.GetRawText()}, expected {(expected ? "true" : "false")} ({why} in LmForge's GPT-2)");
    }

    private static InvalidDataException Error(string path, string message) => new($"{path}: {message}");
}
