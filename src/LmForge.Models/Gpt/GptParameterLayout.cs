using LmForge.Tensors;

namespace LmForge.Models.Gpt;

/// <summary>
/// Where every parameter lives in the one flat buffer. Matrices (embeddings and linear weights, which get weight
/// decay) come first, then the vectors (biases and layer-norm gains, which do not), so AdamW decays one prefix.
/// </summary>
public static class GptParameterLayout
{
    public static IReadOnlyList<GptParameter> Build(GptConfig config)
    {
        int c = config.Width, l = config.LayerCount;
        var parameters = new List<GptParameter>();
        long offset = 0;
        void Add(string name, bool decay, params int[] shape)
        {
            var tensorShape = new TensorShape(shape);
            parameters.Add(new GptParameter(name, tensorShape, offset, decay));
            offset += tensorShape.Length;
        }

        Add("wte.weight", true, config.PaddedVocabSize, c);
        Add("wpe.weight", true, config.ContextLength, c);
        for (int i = 0; i < l; i++)
        {
            Add($"h.{i}.attn.c_attn.weight", true, 3 * c, c);
            Add($"h.{i}.attn.c_proj.weight", true, c, c);
            Add($"h.{i}.mlp.c_fc.weight", true, 4 * c, c);
            Add($"h.{i}.mlp.c_proj.weight", true, c, 4 * c);
        }
        for (int i = 0; i < l; i++)
        {
            Add($"h.{i}.ln_1.weight", false, c);
            Add($"h.{i}.ln_1.bias", false, c);
            Add($"h.{i}.attn.c_attn.bias", false, 3 * c);
            Add($"h.{i}.attn.c_proj.bias", false, c);
            Add($"h.{i}.ln_2.weight", false, c);
            Add($"h.{i}.ln_2.bias", false, c);
            Add($"h.{i}.mlp.c_fc.bias", false, 4 * c);
            Add($"h.{i}.mlp.c_proj.bias", false, c);
        }
        Add("ln_f.weight", false, c);
        Add("ln_f.bias", false, c);
        return parameters;
    }
}

/// <summary>Typed views of one flat buffer laid out by <see cref="GptParameterLayout"/> (used for both parameters and gradients).</summary>
internal sealed class GptWeights
{
    public GptWeights(NativeBuffer buffer, IReadOnlyList<GptParameter> layout, int layerCount)
    {
        ByName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var p in layout) ByName[p.Name] = Tensor.View(buffer, p.Offset, p.Shape);
        TokenEmbedding = ByName["wte.weight"];
        PositionEmbedding = ByName["wpe.weight"];
        FinalNormWeight = ByName["ln_f.weight"];
        FinalNormBias = ByName["ln_f.bias"];
        Layers = new Layer[layerCount];
        for (int i = 0; i < layerCount; i++)
        {
            string h = $"h.{i}.";
            Layers[i] = new Layer(
                ByName[h + "ln_1.weight"], ByName[h + "ln_1.bias"], ByName[h + "attn.c_attn.weight"], ByName[h + "attn.c_attn.bias"],
                ByName[h + "attn.c_proj.weight"], ByName[h + "attn.c_proj.bias"], ByName[h + "ln_2.weight"], ByName[h + "ln_2.bias"],
                ByName[h + "mlp.c_fc.weight"], ByName[h + "mlp.c_fc.bias"], ByName[h + "mlp.c_proj.weight"], ByName[h + "mlp.c_proj.bias"]);
        }
    }

    public Dictionary<string, Tensor> ByName { get; }

    public Tensor TokenEmbedding { get; }      // (Vp, C), also the output projection (tied)
    public Tensor PositionEmbedding { get; }   // (maxT, C)
    public Tensor FinalNormWeight { get; }     // (C)
    public Tensor FinalNormBias { get; }       // (C)
    public Layer[] Layers { get; }

    internal sealed record Layer(
        Tensor Norm1Weight, Tensor Norm1Bias,           // (C)
        Tensor QkvWeight, Tensor QkvBias,               // (3C, C), (3C)
        Tensor AttentionProjectionWeight, Tensor AttentionProjectionBias, // (C, C), (C)
        Tensor Norm2Weight, Tensor Norm2Bias,           // (C)
        Tensor FcWeight, Tensor FcBias,                 // (4C, C), (4C)
        Tensor FcProjectionWeight, Tensor FcProjectionBias); // (C, 4C), (C)
}
