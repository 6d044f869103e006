namespace LmForge.Models.Transformer;

/// <summary>
/// What a family calls each parameter (without ".weight"/".bias"); {0} in a layer name is the layer index. The names are
/// the family's Hugging Face names where one tensor of ours is one of theirs. Llama's q/k/v projections are one fused
/// matrix of ours (rows [q | k | v]) and its gate/up projections another ([gate | up]); their names follow Phi-3's
/// fused layout (qkv_proj, gate_up_proj), and the checkpoint code splits them into Hugging Face's separate tensors.
/// </summary>
internal sealed record TransformerNames(
    string TokenEmbedding, string PositionEmbedding, string AttentionNorm, string Qkv, string AttentionOutput,
    string MlpNorm, string MlpUp, string MlpDown, string FinalNorm, string Head)
{
    public static TransformerNames For(string family) => family switch
    {
        TransformerFamilies.Gpt2 => new("wte", "wpe", "h.{0}.ln_1", "h.{0}.attn.c_attn", "h.{0}.attn.c_proj",
            "h.{0}.ln_2", "h.{0}.mlp.c_fc", "h.{0}.mlp.c_proj", "ln_f", "lm_head"),
        TransformerFamilies.Llama => new("model.embed_tokens", "model.embed_positions", "model.layers.{0}.input_layernorm",
            "model.layers.{0}.self_attn.qkv_proj", "model.layers.{0}.self_attn.o_proj", "model.layers.{0}.post_attention_layernorm",
            "model.layers.{0}.mlp.gate_up_proj", "model.layers.{0}.mlp.down_proj", "model.norm", "lm_head"),
        _ => throw new ArgumentOutOfRangeException(nameof(family), $"unknown model family \"{family}\"; expected one of {string.Join(", ", TransformerFamilies.All)}"),
    };

    public static string Layer(string format, int layer) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, layer);
}
