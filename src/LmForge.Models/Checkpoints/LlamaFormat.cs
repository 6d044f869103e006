using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// Hugging Face Llama (model_type "llama", LlamaForCausalLM). Our fused q/k/v matrix is written as q_proj, k_proj and
/// v_proj (its row blocks), our fused gate/up matrix as gate_proj and up_proj; embed_tokens and lm_head hold the real
/// vocabulary rows. Settings we do not implement (rope_scaling, biases, another activation, a head_dim other than
/// hidden_size / num_attention_heads) are refused with a one-line error naming the field.
/// </summary>
internal sealed class LlamaFormat : ICheckpointFormat
{
    public static LlamaFormat Instance { get; } = new();

    public string ModelType => TransformerFamilies.Llama;

    public string Describe(TransformerConfig config) =>
        $"a Llama with vocabulary {config.VocabSize}, width {config.Width}, {config.LayerCount} layers, {config.HeadCount} heads, " +
        $"{config.KeyValueHeadCount} key/value heads, intermediate size {config.IntermediateSize}";

    public IReadOnlyList<CheckpointTensor> Tensors(TransformerConfig config)
    {
        int c = config.Width, hs = config.HeadSize, q = config.HeadCount * hs, kv = config.KeyValueHeadCount * hs, i = config.IntermediateSize;
        var map = new List<CheckpointTensor> { new("model.embed_tokens.weight", [config.VocabSize, c], "model.embed_tokens.weight", 0, false) };
        for (int l = 0; l < config.LayerCount; l++)
        {
            string p = $"model.layers.{l}.";
            string qkv = p + "self_attn.qkv_proj.weight", gateUp = p + "mlp.gate_up_proj.weight";
            map.Add(new(p + "input_layernorm.weight", [c], p + "input_layernorm.weight", 0, false));
            map.Add(new(p + "self_attn.q_proj.weight", [q, c], qkv, 0, false));
            map.Add(new(p + "self_attn.k_proj.weight", [kv, c], qkv, q, false));
            map.Add(new(p + "self_attn.v_proj.weight", [kv, c], qkv, q + kv, false));
            map.Add(new(p + "self_attn.o_proj.weight", [c, q], p + "self_attn.o_proj.weight", 0, false));
            map.Add(new(p + "post_attention_layernorm.weight", [c], p + "post_attention_layernorm.weight", 0, false));
            map.Add(new(p + "mlp.gate_proj.weight", [i, c], gateUp, 0, false));
            map.Add(new(p + "mlp.up_proj.weight", [i, c], gateUp, i, false));
            map.Add(new(p + "mlp.down_proj.weight", [c, i], p + "mlp.down_proj.weight", 0, false));
        }
        map.Add(new("model.norm.weight", [c], "model.norm.weight", 0, false));
        if (!config.TiedEmbeddings) map.Add(new("lm_head.weight", [config.VocabSize, c], "lm_head.weight", 0, false));
        return map;
    }

    // Older transformers saved each layer's rotary inv_freq buffer; a tied model may still carry lm_head.weight.
    public string? CanonicalName(string fileName) =>
        fileName.EndsWith(".self_attn.rotary_emb.inv_freq", StringComparison.Ordinal) ? null : fileName;

    public void CheckSupported(TransformerConfig config)
    {
        var llama = TransformerConfig.Llama(config.VocabSize, config.ContextLength, config.LayerCount, config.HeadCount, config.KeyValueHeadCount,
            config.Width, config.IntermediateSize);
        if (config with { NormEpsilon = llama.NormEpsilon, RopeTheta = llama.RopeTheta, TiedEmbeddings = llama.TiedEmbeddings, VocabPadding = llama.VocabPadding } != llama)
            throw new ArgumentException($"a {config.Family} model with these options cannot be saved as a Hugging Face Llama (it has RMSNorm, rotary positions, a SwiGLU MLP and no biases)", nameof(config));
    }

    public TransformerConfig ReadConfig(ConfigJson json)
    {
        int vocab = json.RequiredInt("vocab_size");
        int width = json.RequiredInt("hidden_size");
        int layers = json.RequiredInt("num_hidden_layers");
        int heads = json.RequiredInt("num_attention_heads");
        int kvHeads = json.OptionalInt("num_key_value_heads") ?? heads;
        int intermediate = json.RequiredInt("intermediate_size");
        int context = json.RequiredInt("max_position_embeddings");
        if (width % heads != 0)
            throw json.Error($"field 'num_attention_heads' is {heads}, which does not divide 'hidden_size' = {width}");
        if (heads % kvHeads != 0)
            throw json.Error($"field 'num_key_value_heads' is {kvHeads}, which does not divide 'num_attention_heads' = {heads}");
        if (json.OptionalInt("head_dim") is int headDim && headDim != width / heads)
            throw json.Error($"field 'head_dim' is {headDim}, expected {width / heads} (hidden_size / num_attention_heads; LmForge has no separate head size)");
        string activation = json.OptionalString("hidden_act") ?? "silu";
        if (activation != "silu")
            throw json.Error($"field 'hidden_act' is {ConfigJson.Quote(activation)}, expected \"silu\" (LmForge's Llama MLP is SwiGLU)");
        json.RequireNull("rope_scaling", "LmForge implements plain rotary embeddings without scaling");
        json.RequireBool("attention_bias", expected: false, "LmForge's Llama attention has no biases");
        json.RequireBool("mlp_bias", expected: false, "LmForge's Llama MLP has no biases");
        if (json.OptionalInt("pretraining_tp") is int tp && tp != 1)
            throw json.Error($"field 'pretraining_tp' is {tp}, expected 1");
        var config = TransformerConfig.Llama(vocab, context, layers, heads, kvHeads, width, intermediate) with
        {
            NormEpsilon = (float)(json.OptionalNumber("rms_norm_eps") ?? 1e-6),
            RopeTheta = (float)(json.OptionalNumber("rope_theta") ?? 10000.0),
            TiedEmbeddings = json.OptionalBool("tie_word_embeddings") ?? false,
        };
        config.Validate();
        return config;
    }

    public void WriteConfig(Utf8JsonWriter json, TransformerConfig config)
    {
        json.WriteString("model_type", "llama");
        json.WriteStartArray("architectures");
        json.WriteStringValue("LlamaForCausalLM");
        json.WriteEndArray();
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("hidden_size", config.Width);
        json.WriteNumber("intermediate_size", config.IntermediateSize);
        json.WriteNumber("num_hidden_layers", config.LayerCount);
        json.WriteNumber("num_attention_heads", config.HeadCount);
        json.WriteNumber("num_key_value_heads", config.KeyValueHeadCount);
        json.WriteNumber("head_dim", config.HeadSize);
        json.WriteNumber("max_position_embeddings", config.ContextLength);
        json.WriteString("hidden_act", "silu");
        json.WriteNumber("rms_norm_eps", (double)(decimal)config.NormEpsilon);
        json.WriteNumber("rope_theta", (double)(decimal)config.RopeTheta);
        json.WriteNull("rope_scaling");
        json.WriteBoolean("attention_bias", false);
        json.WriteNumber("attention_dropout", 0.0);
        json.WriteBoolean("mlp_bias", false);
        json.WriteNumber("pretraining_tp", 1);
        json.WriteNumber("initializer_range", 0.02);
        json.WriteBoolean("tie_word_embeddings", config.TiedEmbeddings);
        json.WriteBoolean("use_cache", true);
    }
}
