using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// Hugging Face T5 (model_type "t5", T5ForConditionalGeneration). Our fused self-attention qkv is written as q, k and v,
/// the cross-attention's fused kv as EncDecAttention.k and v, and a gated MLP's fused wi as wi_0 (the activated gate)
/// and wi_1; shared.weight holds the real vocabulary rows, lm_head.weight is written only when the head is untied, and
/// on load encoder.embed_tokens / decoder.embed_tokens (transformers' aliases of shared) are skipped.
/// feed_forward_proj "relu", "gelu", "gelu_new" and their "gated-" forms are read ("gated-gelu" is the tanh GELU, as
/// transformers has it); anything else, or a config that is not an encoder-decoder, is a one-line error naming the field.
/// </summary>
internal sealed class T5Format : ICheckpointFormat
{
    public static T5Format Instance { get; } = new();

    public string ModelType => TransformerFamilies.T5;

    public string Describe(TransformerConfig config) =>
        $"a T5 with vocabulary {config.VocabSize}, d_model {config.Width}, {config.HeadCount} heads of {config.HeadSize}, d_ff {config.IntermediateSize}, " +
        $"{config.LayerCount} encoder and {config.DecoderLayerCount} decoder layers, {(config.GatedMlp ? "a gated" : "an ungated")} MLP, " +
        $"{(config.TiedEmbeddings ? "a tied" : "an untied")} head";

    public IReadOnlyList<CheckpointTensor> Tensors(TransformerConfig config)
    {
        int c = config.Width, inner = config.HeadCount * config.HeadSize, ff = config.IntermediateSize;
        var map = new List<CheckpointTensor>();
        void Add(string name, int[] shape) => map.Add(new(name, shape, name, 0, false));
        void Part(string name, int[] shape, string parameter, int rowStart) => map.Add(new(name, shape, parameter + ".weight", rowStart, false));
        map.Add(new("shared.weight", [config.VocabSize, c], "shared.weight", 0, false));
        foreach (bool decoder in (ReadOnlySpan<bool>)[false, true])
        {
            string stack = decoder ? "decoder" : "encoder";
            int layers = decoder ? config.DecoderLayerCount : config.LayerCount;
            for (int l = 0; l < layers; l++)
            {
                string p = $"{stack}.block.{l}.layer.";
                string[] qkv = ["q", "k", "v"];
                for (int k = 0; k < qkv.Length; k++) Part(p + $"0.SelfAttention.{qkv[k]}.weight", [inner, c], p + "0.SelfAttention.qkv", k * inner);
                Add(p + "0.SelfAttention.o.weight", [c, inner]);
                if (l == 0) Add(p + "0.SelfAttention.relative_attention_bias.weight", [config.RelativeAttentionBuckets, config.HeadCount]);
                Add(p + "0.layer_norm.weight", [c]);
                if (decoder)
                {
                    Add(p + "1.EncDecAttention.q.weight", [inner, c]);
                    Part(p + "1.EncDecAttention.k.weight", [inner, c], p + "1.EncDecAttention.kv", 0);
                    Part(p + "1.EncDecAttention.v.weight", [inner, c], p + "1.EncDecAttention.kv", inner);
                    Add(p + "1.EncDecAttention.o.weight", [c, inner]);
                    Add(p + "1.layer_norm.weight", [c]);
                }
                string mlp = p + (decoder ? "2" : "1");
                if (config.GatedMlp)
                {
                    Part(mlp + ".DenseReluDense.wi_0.weight", [ff, c], mlp + ".DenseReluDense.wi", 0);
                    Part(mlp + ".DenseReluDense.wi_1.weight", [ff, c], mlp + ".DenseReluDense.wi", ff);
                }
                else
                {
                    Add(mlp + ".DenseReluDense.wi.weight", [ff, c]);
                }
                Add(mlp + ".DenseReluDense.wo.weight", [c, ff]);
                Add(mlp + ".layer_norm.weight", [c]);
            }
            Add(stack + ".final_layer_norm.weight", [c]);
        }
        if (!config.TiedEmbeddings) Add("lm_head.weight", [config.VocabSize, c]);
        return map;
    }

    public string? CanonicalName(string fileName) =>
        fileName is "encoder.embed_tokens.weight" or "decoder.embed_tokens.weight" ? null : fileName;

    public void CheckSupported(TransformerConfig config)
    {
        var t5 = TransformerConfig.T5(config.VocabSize, config.ContextLength, config.LayerCount, config.DecoderLayerCount, config.HeadCount,
            config.Width, config.IntermediateSize, config.GatedMlp, config.AttentionHeadSize, config.DecoderStartToken);
        // transformers' "gated-gelu" is the tanh GELU, so a gated exact GELU has no name there
        bool activationOk = config.Activation is Activation.Relu or Activation.GeluTanh || (config.Activation == Activation.GeluExact && !config.GatedMlp);
        if (!activationOk || config with
            {
                NormEpsilon = t5.NormEpsilon, Activation = t5.Activation, TiedEmbeddings = t5.TiedEmbeddings, VocabPadding = t5.VocabPadding,
                RelativeAttentionBuckets = t5.RelativeAttentionBuckets, RelativeAttentionMaxDistance = t5.RelativeAttentionMaxDistance,
            } != t5)
            throw new ArgumentException($"a {config.Family} model with these options cannot be saved as a Hugging Face T5 (it has a shared embedding, RMS norms without bias, relative position buckets, unscaled multi-head attention without biases, pre-norm blocks, cross-attention in the decoder and a ReLU or GELU MLP)", nameof(config));
    }

    public TransformerConfig ReadConfig(ConfigJson json)
    {
        json.RequireBool("is_encoder_decoder", expected: true, "a T5 is an encoder-decoder");
        int vocab = json.RequiredInt("vocab_size");
        int width = json.RequiredInt("d_model");
        int headSize = json.RequiredInt("d_kv");
        int ff = json.RequiredInt("d_ff");
        int layers = json.RequiredInt("num_layers");
        int decoderLayers = json.OptionalInt("num_decoder_layers") ?? layers;
        int heads = json.RequiredInt("num_heads");
        string projection = json.OptionalString("feed_forward_proj") ?? "relu";
        bool gated = projection.StartsWith("gated-", StringComparison.Ordinal);
        string activationName = gated ? projection["gated-".Length..] : projection;
        Activation activation = activationName switch
        {
            "relu" => Activation.Relu,
            "gelu" when gated => Activation.GeluTanh, // transformers reads "gated-gelu" as gelu_new
            "gelu" => Activation.GeluExact,
            "gelu_new" or "gelu_pytorch_tanh" => Activation.GeluTanh,
            _ => throw json.Error($"field 'feed_forward_proj' is {ConfigJson.Quote(projection)}, expected relu, gelu, gelu_new or one of them after \"gated-\""),
        };
        int startToken = json.Root.TryGetProperty("decoder_start_token_id", out var start) && start.ValueKind == JsonValueKind.Number && start.TryGetInt32(out int id)
            ? id
            : 0;
        var config = TransformerConfig.T5(vocab, json.OptionalInt("n_positions") ?? 512, layers, decoderLayers, heads, width, ff, gated,
            headSize * heads == width ? 0 : headSize, startToken) with
        {
            Activation = activation,
            NormEpsilon = (float)(json.OptionalNumber("layer_norm_epsilon") ?? 1e-6),
            RelativeAttentionBuckets = json.OptionalInt("relative_attention_num_buckets") ?? 32,
            RelativeAttentionMaxDistance = json.OptionalInt("relative_attention_max_distance") ?? 128,
            TiedEmbeddings = json.OptionalBool("tie_word_embeddings") ?? true,
        };
        config.Validate();
        return config;
    }

    public void WriteConfig(Utf8JsonWriter json, TransformerConfig config)
    {
        json.WriteString("model_type", "t5");
        json.WriteStartArray("architectures");
        json.WriteStringValue("T5ForConditionalGeneration");
        json.WriteEndArray();
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("d_model", config.Width);
        json.WriteNumber("d_kv", config.HeadSize);
        json.WriteNumber("d_ff", config.IntermediateSize);
        json.WriteNumber("num_layers", config.LayerCount);
        json.WriteNumber("num_decoder_layers", config.DecoderLayerCount);
        json.WriteNumber("num_heads", config.HeadCount);
        json.WriteNumber("relative_attention_num_buckets", config.RelativeAttentionBuckets);
        json.WriteNumber("relative_attention_max_distance", config.RelativeAttentionMaxDistance);
        json.WriteNumber("n_positions", config.ContextLength);
        string activation = config.Activation switch
        {
            Activation.Relu => "relu",
            Activation.GeluExact => "gelu",
            _ => config.GatedMlp ? "gelu" : "gelu_new", // "gated-gelu" is the tanh GELU
        };
        json.WriteString("feed_forward_proj", (config.GatedMlp ? "gated-" : "") + activation);
        // LmForge trains without dropout; a user fine-tuning elsewhere may set it.
        json.WriteNumber("dropout_rate", 0.0);
        json.WriteNumber("layer_norm_epsilon", (double)(decimal)config.NormEpsilon);
        json.WriteNumber("initializer_factor", 1.0);
        json.WriteBoolean("is_encoder_decoder", true);
        json.WriteBoolean("tie_word_embeddings", config.TiedEmbeddings);
        json.WriteNumber("decoder_start_token_id", config.DecoderStartToken);
        json.WriteNumber("pad_token_id", config.DecoderStartToken);
    }
}
