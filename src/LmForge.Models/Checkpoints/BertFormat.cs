using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors;

namespace LmForge.Models.Checkpoints;

/// <summary>
/// Hugging Face BERT for masked-LM (model_type "bert", BertForMaskedLM). Our fused q/k/v matrix and bias are written as
/// attention.self.query, key and value (their row blocks); word_embeddings and cls.predictions.bias hold the real
/// vocabulary rows; the decoder is tied to word_embeddings, so cls.predictions.decoder.weight is not written, and on
/// load it and cls.predictions.decoder.bias (transformers' alias of cls.predictions.bias) are skipped, as are what a
/// BertForPreTraining file holds beyond the masked-LM model (the pooler, the next-sentence head, the position_ids buffer).
/// Settings we do not implement (relative position embeddings, a decoder, an untied head) are refused with a one-line
/// error naming the field.
/// </summary>
internal sealed class BertFormat : ICheckpointFormat
{
    private static readonly string[] SkippedPrefixes = ["bert.pooler.", "cls.seq_relationship."];
    private static readonly string[] TanhGeluNames = ["gelu_new", "gelu_pytorch_tanh"];

    public static BertFormat Instance { get; } = new();

    public string ModelType => TransformerFamilies.Bert;

    public string Describe(TransformerConfig config) =>
        $"a BERT with vocabulary {config.VocabSize}, width {config.Width}, {config.LayerCount} layers, intermediate size {config.IntermediateSize}, " +
        $"{config.ContextLength} positions, {config.TokenTypeCount} token types";

    public IReadOnlyList<CheckpointTensor> Tensors(TransformerConfig config)
    {
        int c = config.Width, i = config.IntermediateSize;
        var map = new List<CheckpointTensor>();
        void Add(string name, int[] shape) => map.Add(new(name, shape, name, 0, false));
        void Norm(string name)
        {
            Add(name + ".weight", [c]);
            Add(name + ".bias", [c]);
        }
        Add("bert.embeddings.word_embeddings.weight", [config.VocabSize, c]);
        Add("bert.embeddings.position_embeddings.weight", [config.ContextLength, c]);
        Add("bert.embeddings.token_type_embeddings.weight", [config.TokenTypeCount, c]);
        Norm("bert.embeddings.LayerNorm");
        for (int l = 0; l < config.LayerCount; l++)
        {
            string p = $"bert.encoder.layer.{l}.";
            string qkv = p + "attention.self.qkv.";
            string[] parts = ["query", "key", "value"];
            for (int k = 0; k < parts.Length; k++)
            {
                map.Add(new(p + $"attention.self.{parts[k]}.weight", [c, c], qkv + "weight", k * c, false));
                map.Add(new(p + $"attention.self.{parts[k]}.bias", [c], qkv + "bias", k * c, false));
            }
            Add(p + "attention.output.dense.weight", [c, c]);
            Add(p + "attention.output.dense.bias", [c]);
            Norm(p + "attention.output.LayerNorm");
            Add(p + "intermediate.dense.weight", [i, c]);
            Add(p + "intermediate.dense.bias", [i]);
            Add(p + "output.dense.weight", [c, i]);
            Add(p + "output.dense.bias", [c]);
            Norm(p + "output.LayerNorm");
        }
        Add("cls.predictions.bias", [config.VocabSize]);
        Add("cls.predictions.transform.dense.weight", [c, c]);
        Add("cls.predictions.transform.dense.bias", [c]);
        Norm("cls.predictions.transform.LayerNorm");
        return map;
    }

    public string? CanonicalName(string fileName) =>
        fileName is "cls.predictions.decoder.weight" or "cls.predictions.decoder.bias" or "bert.embeddings.position_ids"
        || SkippedPrefixes.Any(p => fileName.StartsWith(p, StringComparison.Ordinal))
            ? null
            : fileName;

    public void CheckSupported(TransformerConfig config)
    {
        var bert = TransformerConfig.Bert(config.VocabSize, config.ContextLength, config.LayerCount, config.HeadCount, config.Width, config.IntermediateSize);
        bool activationOk = config.Activation is Activation.GeluExact or Activation.GeluTanh or Activation.Relu;
        if (!activationOk || config.TokenTypeCount < 1
            || config with { NormEpsilon = bert.NormEpsilon, Activation = bert.Activation, TokenTypeCount = bert.TokenTypeCount, VocabPadding = bert.VocabPadding } != bert)
            throw new ArgumentException($"a {config.Family} model with these options cannot be saved as a Hugging Face BERT (it has learned positions, token types, an embedding LayerNorm, post-norm blocks with biases, bidirectional multi-head attention, a GELU or ReLU MLP and the tied masked-LM head)", nameof(config));
    }

    public TransformerConfig ReadConfig(ConfigJson json)
    {
        int vocab = json.RequiredInt("vocab_size");
        int width = json.RequiredInt("hidden_size");
        int layers = json.RequiredInt("num_hidden_layers");
        int heads = json.RequiredInt("num_attention_heads");
        int intermediate = json.RequiredInt("intermediate_size");
        int context = json.RequiredInt("max_position_embeddings");
        int types = json.OptionalInt("type_vocab_size") ?? 2;
        if (width % heads != 0)
            throw json.Error($"field 'num_attention_heads' is {heads}, which does not divide 'hidden_size' = {width}");
        string activationName = json.OptionalString("hidden_act") ?? "gelu";
        Activation activation = activationName switch
        {
            "gelu" => Activation.GeluExact,
            _ when TanhGeluNames.Contains(activationName) => Activation.GeluTanh,
            "relu" => Activation.Relu,
            _ => throw json.Error($"field 'hidden_act' is {ConfigJson.Quote(activationName)}, expected one of gelu, {string.Join(", ", TanhGeluNames)}, relu"),
        };
        string positions = json.OptionalString("position_embedding_type") ?? "absolute";
        if (positions != "absolute")
            throw json.Error($"field 'position_embedding_type' is {ConfigJson.Quote(positions)}, expected \"absolute\" (LmForge's BERT has learned absolute positions)");
        json.RequireBool("is_decoder", expected: false, "LmForge's BERT is a bidirectional encoder");
        json.RequireBool("add_cross_attention", expected: false, "LmForge's BERT has no cross-attention");
        json.RequireBool("tie_word_embeddings", expected: true, "LmForge's BERT ties the masked-LM decoder to word_embeddings");
        var config = TransformerConfig.Bert(vocab, context, layers, heads, width, intermediate) with
        {
            NormEpsilon = (float)(json.OptionalNumber("layer_norm_eps") ?? 1e-12),
            Activation = activation,
            TokenTypeCount = types,
        };
        config.Validate();
        return config;
    }

    public void WriteConfig(Utf8JsonWriter json, TransformerConfig config)
    {
        json.WriteString("model_type", "bert");
        json.WriteStartArray("architectures");
        json.WriteStringValue("BertForMaskedLM");
        json.WriteEndArray();
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("hidden_size", config.Width);
        json.WriteNumber("num_hidden_layers", config.LayerCount);
        json.WriteNumber("num_attention_heads", config.HeadCount);
        json.WriteNumber("intermediate_size", config.IntermediateSize);
        json.WriteString("hidden_act", config.Activation switch
        {
            Activation.GeluExact => "gelu",
            Activation.GeluTanh => "gelu_new",
            _ => "relu",
        });
        // LmForge trains without dropout; a user fine-tuning elsewhere may set these.
        json.WriteNumber("hidden_dropout_prob", 0.0);
        json.WriteNumber("attention_probs_dropout_prob", 0.0);
        json.WriteNumber("max_position_embeddings", config.ContextLength);
        json.WriteNumber("type_vocab_size", config.TokenTypeCount);
        json.WriteNumber("initializer_range", 0.02);
        json.WriteNumber("layer_norm_eps", (double)(decimal)config.NormEpsilon);
        json.WriteString("position_embedding_type", "absolute");
        json.WriteBoolean("is_decoder", false);
        json.WriteBoolean("tie_word_embeddings", true);
    }
}
