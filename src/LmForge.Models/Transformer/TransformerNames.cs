namespace LmForge.Models.Transformer;

/// <summary>
/// What a family calls each parameter (without ".weight"/".bias"); {0} in a layer name is the layer index. The names are
/// the family's Hugging Face names where one tensor of ours is one of theirs. Llama's q/k/v projections are one fused
/// matrix of ours (rows [q | k | v]) and its gate/up projections another ([gate | up]); their names follow Phi-3's
/// fused layout (qkv_proj, gate_up_proj), and the checkpoint code splits them into Hugging Face's separate tensors.
/// BERT's query, key and value are likewise one fused "attention.self.qkv" of ours; its head bias is the full name
/// "cls.predictions.bias" (no ".bias" added). T5 has two stacks (<see cref="T5Stack"/>): its q, k and v are one fused
/// "SelfAttention.qkv" of ours, its cross-attention's k and v one "EncDecAttention.kv", and a gated MLP's wi_0 and wi_1
/// one "DenseReluDense.wi" (rows [wi_0 | wi_1]); the relative position bias table lives in each stack's block 0.
/// </summary>
internal sealed record TransformerNames(
    string TokenEmbedding, string PositionEmbedding, string AttentionNorm, string Qkv, string AttentionOutput,
    string MlpNorm, string MlpUp, string MlpDown, string FinalNorm, string Head,
    string TokenTypeEmbedding = "", string EmbeddingNorm = "", string HeadTransform = "", string HeadTransformNorm = "", string HeadBias = "",
    string CrossNorm = "", string CrossQuery = "", string CrossKeyValue = "", string CrossOutput = "", string RelativeBias = "")
{
    /// <summary>The names of a T5's encoder stack or (<paramref name="decoder"/>) its decoder stack, as Hugging Face's T5ForConditionalGeneration.</summary>
    public static TransformerNames T5Stack(bool decoder)
    {
        string stack = decoder ? "decoder" : "encoder";
        string block = stack + ".block.{0}.layer.";
        string mlpLayer = block + (decoder ? "2" : "1");
        return new("shared", "", block + "0.layer_norm", block + "0.SelfAttention.qkv", block + "0.SelfAttention.o",
            mlpLayer + ".layer_norm", mlpLayer + ".DenseReluDense.wi", mlpLayer + ".DenseReluDense.wo", stack + ".final_layer_norm", "lm_head",
            CrossNorm: decoder ? block + "1.layer_norm" : "", CrossQuery: decoder ? block + "1.EncDecAttention.q" : "",
            CrossKeyValue: decoder ? block + "1.EncDecAttention.kv" : "", CrossOutput: decoder ? block + "1.EncDecAttention.o" : "",
            RelativeBias: stack + ".block.0.layer.0.SelfAttention.relative_attention_bias");
    }

    public static TransformerNames For(string family) => family switch
    {
        TransformerFamilies.Gpt2 => new("wte", "wpe", "h.{0}.ln_1", "h.{0}.attn.c_attn", "h.{0}.attn.c_proj",
            "h.{0}.ln_2", "h.{0}.mlp.c_fc", "h.{0}.mlp.c_proj", "ln_f", "lm_head"),
        TransformerFamilies.Llama => new("model.embed_tokens", "model.embed_positions", "model.layers.{0}.input_layernorm",
            "model.layers.{0}.self_attn.qkv_proj", "model.layers.{0}.self_attn.o_proj", "model.layers.{0}.post_attention_layernorm",
            "model.layers.{0}.mlp.gate_up_proj", "model.layers.{0}.mlp.down_proj", "model.norm", "lm_head"),
        // post-norm: attention.output.LayerNorm follows the attention residual, output.LayerNorm the MLP's; no final norm
        TransformerFamilies.Bert => new("bert.embeddings.word_embeddings", "bert.embeddings.position_embeddings",
            "bert.encoder.layer.{0}.attention.output.LayerNorm", "bert.encoder.layer.{0}.attention.self.qkv",
            "bert.encoder.layer.{0}.attention.output.dense", "bert.encoder.layer.{0}.output.LayerNorm",
            "bert.encoder.layer.{0}.intermediate.dense", "bert.encoder.layer.{0}.output.dense", "bert.final_norm", "cls.predictions.decoder",
            "bert.embeddings.token_type_embeddings", "bert.embeddings.LayerNorm", "cls.predictions.transform.dense",
            "cls.predictions.transform.LayerNorm", "cls.predictions.bias"),
        TransformerFamilies.T5 => T5Stack(decoder: false),
        _ => throw new ArgumentOutOfRangeException(nameof(family), $"unknown model family \"{family}\"; expected one of {string.Join(", ", TransformerFamilies.All)}"),
    };

    public static string Layer(string format, int layer) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, layer);
}
