using System.Globalization;
using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// Hugging Face GPT-2 (model_type "gpt2", GPT2LMHeadModel): GPT-2's tensor names, Conv1D linear weights stored
/// (in, out) and transposed here, <c>wte.weight</c> with the real vocabulary rows only. Loading accepts what real files
/// hold beyond the weights: the <c>transformer.</c> prefix (GPT2LMHeadModel) or none (GPT2Model), the
/// <c>attn.bias</c>/<c>attn.masked_bias</c> mask buffers, and <c>lm_head.weight</c> absent or present; a present one must
/// equal <c>wte.weight</c> bit for bit (it is not loaded: our head is tied, and an untied head would be silently dropped).
/// </summary>
internal sealed class Gpt2Format : ICheckpointFormat
{
    private const string TransformerPrefix = "transformer.";

    // The tanh approximation of GELU under the names transformers gives it, then the others it knows.
    private static readonly string[] TanhGeluNames = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

    public static Gpt2Format Instance { get; } = new();

    public string ModelType => TransformerFamilies.Gpt2;

    public string Describe(TransformerConfig config) =>
        $"a GPT-2 with vocabulary {config.VocabSize}, width {config.Width}, context {config.ContextLength}, {config.LayerCount} layers";

    public IReadOnlyList<CheckpointTensor> Tensors(TransformerConfig config)
    {
        int c = config.Width, i = config.IntermediateSize;
        var map = new List<CheckpointTensor>
        {
            new("wte.weight", [config.VocabSize, c], "wte.weight", 0, false),
            new("wpe.weight", [config.ContextLength, c], "wpe.weight", 0, false),
        };
        for (int l = 0; l < config.LayerCount; l++)
        {
            string h = $"h.{l}.";
            void Vector(string name, int length) => map.Add(new(h + name, [length], h + name, 0, false));
            void Conv1D(string name, int inFeatures, int outFeatures) => map.Add(new(h + name, [inFeatures, outFeatures], h + name, 0, true));
            Vector("ln_1.weight", c);
            Vector("ln_1.bias", c);
            Conv1D("attn.c_attn.weight", c, 3 * c);
            Vector("attn.c_attn.bias", 3 * c);
            Conv1D("attn.c_proj.weight", c, c);
            Vector("attn.c_proj.bias", c);
            Vector("ln_2.weight", c);
            Vector("ln_2.bias", c);
            Conv1D("mlp.c_fc.weight", c, i);
            Vector("mlp.c_fc.bias", i);
            Conv1D("mlp.c_proj.weight", i, c);
            Vector("mlp.c_proj.bias", c);
        }
        map.Add(new("ln_f.weight", [c], "ln_f.weight", 0, false));
        map.Add(new("ln_f.bias", [c], "ln_f.bias", 0, false));
        return map;
    }

    public string? CanonicalName(string fileName)
    {
        string name = fileName.StartsWith(TransformerPrefix, StringComparison.Ordinal) ? fileName[TransformerPrefix.Length..] : fileName;
        return name == "lm_head.weight" || IsAttentionMaskBuffer(name) ? null : name;
    }

    public string? TiedTo(string fileName) =>
        fileName is "lm_head.weight" or TransformerPrefix + "lm_head.weight" ? "wte.weight" : null;

    /// <summary>
    /// The GPT-2 a bare weights file (no config.json) holds, from its tensor shapes: V and C from wte, maxT from wpe, L
    /// from the highest h.N present, and NH = C / 64, the head size of every GPT-2 OpenAI released (124M to 1.5B).
    /// </summary>
    public static TransformerConfig InferConfig(LmForge.Tensors.SafeTensors.SafeTensorsFile file)
    {
        int[] Shape(string name)
        {
            foreach (string candidate in (string[])[name, TransformerPrefix + name])
            {
                if (file.Tensors.TryGetValue(candidate, out var info)) return info.Shape.ToArray();
            }
            throw new InvalidDataException($"{file.Path}: tensor '{name}' is missing, so the GPT-2's sizes cannot be read from the file; put its config.json beside it");
        }
        int[] wte = Shape("wte.weight"), wpe = Shape("wpe.weight");
        if (wte.Length != 2 || wpe.Length != 2 || wte[1] != wpe[1])
            throw new InvalidDataException($"{file.Path}: wte.weight [{string.Join(", ", wte)}] and wpe.weight [{string.Join(", ", wpe)}] are not two matrices of one width");
        int layers = 0;
        foreach (string name in file.Tensors.Keys)
        {
            string bare = name.StartsWith(TransformerPrefix, StringComparison.Ordinal) ? name[TransformerPrefix.Length..] : name;
            if (!bare.StartsWith("h.", StringComparison.Ordinal)) continue;
            int dot = bare.IndexOf('.', 2);
            if (dot > 2 && int.TryParse(bare.AsSpan(2, dot - 2), NumberStyles.None, CultureInfo.InvariantCulture, out int layer)) layers = Math.Max(layers, layer + 1);
        }
        int width = wte[1];
        if (layers == 0 || width % 64 != 0)
            throw new InvalidDataException($"{file.Path}: cannot infer a GPT-2 from the tensor shapes ({layers} layers, width {width}, not a multiple of head size 64); put its config.json beside it");
        var config = TransformerConfig.Gpt2(wte[0], wpe[0], layers, width / 64, width);
        config.Validate();
        return config;
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

    public void CheckSupported(TransformerConfig config)
    {
        var gpt2 = TransformerConfig.Gpt2(config.VocabSize, config.ContextLength, config.LayerCount, config.HeadCount, config.Width);
        if (config with { IntermediateSize = gpt2.IntermediateSize, NormEpsilon = gpt2.NormEpsilon, Activation = gpt2.Activation, VocabPadding = gpt2.VocabPadding } != gpt2)
            throw new ArgumentException($"a {config.Family} model with these options cannot be saved as a Hugging Face GPT-2 (it has learned positions, LayerNorm with bias, biases, multi-head attention, a tied head and an ungated MLP)", nameof(config));
    }

    public TransformerConfig ReadConfig(ConfigJson json)
    {
        int vocab = json.RequiredInt("vocab_size");
        int width = json.RequiredInt("n_embd");
        int layers = json.RequiredInt("n_layer");
        int heads = json.RequiredInt("n_head");
        int context = json.Root.TryGetProperty("n_positions", out _) ? json.RequiredInt("n_positions") : json.RequiredInt("n_ctx");
        if (width % heads != 0) throw json.Error($"field 'n_head' is {heads}, which does not divide 'n_embd' = {width}");
        string activationName = json.OptionalString("activation_function") ?? "gelu_new";
        Activation activation = activationName switch
        {
            _ when TanhGeluNames.Contains(activationName) => Activation.GeluTanh,
            "gelu" => Activation.GeluExact,
            "relu" => Activation.Relu,
            "silu" or "swish" => Activation.Silu,
            _ => throw json.Error($"field 'activation_function' is {ConfigJson.Quote(activationName)}, expected one of {string.Join(", ", TanhGeluNames)}, gelu, relu, silu"),
        };
        json.RequireBool("tie_word_embeddings", expected: true, "LmForge's GPT-2 ties the output projection to wte");
        json.RequireBool("scale_attn_weights", expected: true, "LmForge scales attention by 1/sqrt(head size)");
        json.RequireBool("scale_attn_by_inverse_layer_idx", expected: false, "LmForge does not scale attention by layer index");
        json.RequireBool("reorder_and_upcast_attn", expected: false, "LmForge computes attention in float32 throughout");
        var config = TransformerConfig.Gpt2(vocab, context, layers, heads, width) with
        {
            IntermediateSize = json.OptionalInt("n_inner") ?? 4 * width,
            NormEpsilon = (float)(json.OptionalNumber("layer_norm_epsilon") ?? 1e-5),
            Activation = activation,
        };
        config.Validate();
        return config;
    }

    public void WriteConfig(Utf8JsonWriter json, TransformerConfig config)
    {
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
        if (config.IntermediateSize == 4 * config.Width) json.WriteNull("n_inner");
        else json.WriteNumber("n_inner", config.IntermediateSize);
        json.WriteString("activation_function", config.Activation switch
        {
            Activation.GeluTanh => "gelu_new",
            Activation.GeluExact => "gelu",
            Activation.Relu => "relu",
            _ => "silu",
        });
        json.WriteNumber("layer_norm_epsilon", (double)(decimal)config.NormEpsilon);
        json.WriteNumber("initializer_range", 0.02);
        // LmForge trains without dropout; a user fine-tuning elsewhere may set these.
        json.WriteNumber("resid_pdrop", 0.0);
        json.WriteNumber("embd_pdrop", 0.0);
        json.WriteNumber("attn_pdrop", 0.0);
        json.WriteBoolean("scale_attn_weights", true);
        json.WriteBoolean("tie_word_embeddings", true);
        json.WriteBoolean("use_cache", true);
    }
}
