using System.Text.Json;
using System.Text.Json.Nodes;
using LmForge.Models.Gpt;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Training.Gpt;

/// <summary>
/// A GPT-2 checkpoint as Hugging Face lays it out: model.safetensors with GPT2Model tensor names ("wte.weight",
/// "h.0.attn.c_attn.weight", ...; the four projection weights transposed to Conv1D's (in, out) layout; the token
/// embedding without padding rows) and a config.json (model_type gpt2), so transformers' GPT2LMHeadModel can load it.
/// </summary>
public static class GptCheckpointFiles
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";

    static bool IsConv1DWeight(string name) =>
        name.EndsWith("attn.c_attn.weight", StringComparison.Ordinal) || name.EndsWith("attn.c_proj.weight", StringComparison.Ordinal) ||
        name.EndsWith("mlp.c_fc.weight", StringComparison.Ordinal) || name.EndsWith("mlp.c_proj.weight", StringComparison.Ordinal);

    public static void Save(GptModel model, string directory)
    {
        var config = model.Config;
        var entries = new List<SafeTensorEntry>();
        foreach (var parameter in model.ParameterLayout)
        {
            float[] values = model.GetParameter(parameter.Name).ToArray();
            int rows = parameter.Shape[0], columns = parameter.Shape.Rank > 1 ? parameter.Shape[1] : 1;
            if (parameter.Name == "wte.weight")
                entries.Add(new SafeTensorEntry(parameter.Name, [config.VocabSize, columns], values.AsMemory(0, config.VocabSize * columns)));
            else if (IsConv1DWeight(parameter.Name))
                entries.Add(new SafeTensorEntry(parameter.Name, [columns, rows], Transpose(values, rows, columns)));
            else
                entries.Add(new SafeTensorEntry(parameter.Name, parameter.Shape.Dimensions.ToArray(), values));
        }
        SafeTensorsFile.Write(Path.Combine(directory, WeightsFile), entries, new Dictionary<string, string> { ["format"] = "pt" });
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["vocab_size"] = config.VocabSize,
            ["n_positions"] = config.ContextLength,
            ["n_ctx"] = config.ContextLength,
            ["n_embd"] = config.Width,
            ["n_layer"] = config.LayerCount,
            ["n_head"] = config.HeadCount,
            ["activation_function"] = "gelu_new",
            ["layer_norm_epsilon"] = 1e-5,
            ["tie_word_embeddings"] = true,
        };
        File.WriteAllText(Path.Combine(directory, ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads config.json into a model shape; a missing or malformed field is a one-line error naming the file.</summary>
    public static GptConfig ReadConfig(string directory)
    {
        string path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; a GPT-2 checkpoint directory holds {WeightsFile} and {ConfigFile}");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON ({e.Message.Split('\n')[0]})");
        }
        int Field(string name) => json[name] is JsonValue v && v.TryGetValue(out int value)
            ? value
            : throw new InvalidDataException($"{path}: field '{name}' is missing or not an integer");
        return new GptConfig(Field("vocab_size"), Field("n_positions"), Field("n_layer"), Field("n_head"), Field("n_embd"));
    }

    /// <summary>Fills the model's parameters from model.safetensors; a tensor of another shape is a one-line error.</summary>
    public static void Load(GptModel model, string directory)
    {
        var config = model.Config;
        using var file = SafeTensorsFile.Open(Path.Combine(directory, WeightsFile));
        foreach (var parameter in model.ParameterLayout)
        {
            var destination = model.GetParameter(parameter.Name).AsSpan();
            int rows = parameter.Shape[0], columns = parameter.Shape.Rank > 1 ? parameter.Shape[1] : 1;
            if (parameter.Name == "wte.weight")
            {
                file.ReadFloat32(parameter.Name, destination[..(config.VocabSize * columns)], [config.VocabSize, columns]);
                destination[(config.VocabSize * columns)..].Clear();
            }
            else if (IsConv1DWeight(parameter.Name))
            {
                float[] stored = file.ReadFloat32(parameter.Name, [columns, rows]);
                Transpose(stored, columns, rows).CopyTo(destination);
            }
            else
            {
                file.ReadFloat32(parameter.Name, destination, parameter.Shape.Dimensions);
            }
        }
    }

    // (rows, columns) row-major → (columns, rows) row-major.
    static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                result[c * rows + r] = values[r * columns + c];
        return result;
    }
}
