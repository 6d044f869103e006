using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>Which normalization a block uses: LayerNorm (mean and variance, GPT-2, BERT) or RMSNorm (Llama, T5).</summary>
public enum NormKind
{
    LayerNorm,
    RmsNorm,
}

/// <summary>How token positions enter the model: a learned table added to the embeddings (GPT-2, BERT) or rotary embeddings applied to queries and keys (Llama).</summary>
public enum PositionKind
{
    Learned,
    Rotary,
    /// <summary>T5's relative position buckets: a learned bias per (bucket of key − query distance, head) added to the attention scores.</summary>
    Relative,
}

/// <summary>
/// The shape and the structure of a transformer: every model family (GPT-2, a Llama-style decoder, a BERT-style encoder, later T5)
/// is one of these, not a class of its own. <see cref="Family"/> names the parameters and the checkpoint layout; the
/// other fields choose the math. Use the presets <see cref="Gpt2"/>, <see cref="Llama"/> and <see cref="Bert"/> and adjust with <c>with</c>.
/// </summary>
public sealed record TransformerConfig
{
    /// <summary>The family whose parameter names and checkpoint format the model uses: "gpt2", "llama", "bert" or "t5".</summary>
    public required string Family { get; init; }
    public required int VocabSize { get; init; }
    /// <summary>The longest sequence the model attends to (learned position table rows; the limit for rotary models).</summary>
    public required int ContextLength { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads: HeadCount for multi-head attention, fewer for grouped-query, 1 for multi-query.</summary>
    public required int KeyValueHeadCount { get; init; }
    /// <summary>The residual stream's width (C).</summary>
    public required int Width { get; init; }
    /// <summary>The MLP's hidden width (I): 4·C in GPT-2; a gated MLP has two such projections (gate and up).</summary>
    public required int IntermediateSize { get; init; }

    public NormKind Norm { get; init; } = NormKind.LayerNorm;
    public float NormEpsilon { get; init; } = 1e-5f;
    public PositionKind Positions { get; init; } = PositionKind.Learned;
    /// <summary>Rotary base θ (Llama 2: 10,000; Llama 3: 500,000).</summary>
    public float RopeTheta { get; init; } = 10000f;
    public Activation Activation { get; init; } = Activation.GeluTanh;
    /// <summary>A gated MLP (SwiGLU with SiLU, GeGLU with GELU): down(act(gate(x)) ⊙ up(x)).</summary>
    public bool GatedMlp { get; init; }
    /// <summary>Biases on the attention projections (q, k, v, output).</summary>
    public bool AttentionBias { get; init; } = true;
    /// <summary>Biases on the MLP projections.</summary>
    public bool MlpBias { get; init; } = true;
    /// <summary>Biases on the LayerNorms (RMSNorm has none).</summary>
    public bool NormBias { get; init; } = true;
    /// <summary>The output head reuses the token embedding table (GPT-2) instead of a matrix of its own (Llama).</summary>
    public bool TiedEmbeddings { get; init; } = true;
    /// <summary>Causal self-attention (decoders) or bidirectional (encoders).</summary>
    public bool Causal { get; init; } = true;
    /// <summary>Pre-norm blocks (x + f(norm(x)), with a final norm) or post-norm (norm(x + f(x)), original transformer and BERT).</summary>
    public bool PreNorm { get; init; } = true;
    /// <summary>
    /// Rows of a token-type (segment) table added to the token and position embeddings (BERT: 2); 0 for none. A forward
    /// may give each token its type (segment A 0, segment B 1); without types every token is type 0.
    /// </summary>
    public int TokenTypeCount { get; init; }
    /// <summary>A LayerNorm on the summed embeddings before the first block (BERT's embeddings.LayerNorm).</summary>
    public bool EmbeddingNorm { get; init; }
    /// <summary>The masked-LM head's transform before the output projection: dense (C→C, bias), the activation, a LayerNorm (BERT).</summary>
    public bool HeadTransform { get; init; }
    /// <summary>A bias (V) on the output projection (BERT's cls.predictions.bias).</summary>
    public bool HeadBias { get; init; }
    /// <summary>Layers of the decoder stack of an encoder-decoder (T5; <see cref="LayerCount"/> is the encoder's); 0 for a single stack.</summary>
    public int DecoderLayerCount { get; init; }
    /// <summary>The size of one attention head when it is not Width / HeadCount (T5's d_kv); 0: Width / HeadCount.</summary>
    public int AttentionHeadSize { get; init; }
    /// <summary>Attention scores scaled by 1/√(head size) (false: unscaled, as T5, whose initialization absorbs the scale).</summary>
    public bool ScaledAttention { get; init; } = true;
    /// <summary>Relative position buckets (T5: 32; half for each direction in the bidirectional encoder).</summary>
    public int RelativeAttentionBuckets { get; init; }
    /// <summary>The distance beyond which relative positions share the last bucket (T5: 128).</summary>
    public int RelativeAttentionMaxDistance { get; init; }
    /// <summary>The token an encoder-decoder's decoder starts from (T5: its pad token).</summary>
    public int DecoderStartToken { get; init; }
    /// <summary>The embedding and head rows are padded to a multiple of this (128: GPT-2's 50257 becomes 50304); padded rows stay 0 and the loss ignores them.</summary>
    public int VocabPadding { get; init; } = 128;

    public int PaddedVocabSize => VocabPadding <= 0 ? VocabSize : (VocabSize + VocabPadding - 1) / VocabPadding * VocabPadding;

    public int HeadSize => AttentionHeadSize > 0 ? AttentionHeadSize : HeadCount > 0 ? Width / HeadCount : 0;

    /// <summary>Whether this is an encoder-decoder (T5): an encoder stack, and a decoder stack with cross-attention.</summary>
    public bool IsEncoderDecoder => DecoderLayerCount > 0;

    /// <summary>A GPT-2: LayerNorm with bias (eps 1e-5), learned positions, tanh-GELU MLP of 4·C, biases everywhere, tied head.</summary>
    public static TransformerConfig Gpt2(int vocabSize, int contextLength, int layerCount, int headCount, int width) => new()
    {
        Family = TransformerFamilies.Gpt2,
        VocabSize = vocabSize,
        ContextLength = contextLength,
        LayerCount = layerCount,
        HeadCount = headCount,
        KeyValueHeadCount = headCount,
        Width = width,
        IntermediateSize = 4 * width,
    };

    /// <summary>The 124M-parameter GPT-2 ("gpt2" on Hugging Face).</summary>
    public static TransformerConfig Gpt2Small { get; } = Gpt2(50257, 1024, 12, 12, 768);

    /// <summary>
    /// A Llama-style decoder: RMSNorm (eps 1e-5), rotary positions, SwiGLU MLP, grouped-query attention, no biases,
    /// untied head. intermediateSize 0 picks Llama's rule: 8·C/3 rounded up to a multiple of 32.
    /// </summary>
    public static TransformerConfig Llama(int vocabSize, int contextLength, int layerCount, int headCount, int keyValueHeadCount, int width,
        int intermediateSize = 0) => new()
    {
        Family = TransformerFamilies.Llama,
        VocabSize = vocabSize,
        ContextLength = contextLength,
        LayerCount = layerCount,
        HeadCount = headCount,
        KeyValueHeadCount = keyValueHeadCount,
        Width = width,
        IntermediateSize = intermediateSize > 0 ? intermediateSize : DefaultLlamaIntermediateSize(width),
        Norm = NormKind.RmsNorm,
        NormEpsilon = 1e-5f,
        Positions = PositionKind.Rotary,
        Activation = Activation.Silu,
        GatedMlp = true,
        AttentionBias = false,
        MlpBias = false,
        NormBias = false,
        TiedEmbeddings = false,
    };

    /// <summary>
    /// A BERT-style encoder for masked-LM training: bidirectional attention, learned positions, a token-type table of 2
    /// rows (segments A and B), LayerNorm (eps 1e-12) on the summed embeddings, post-norm blocks with an exact
    /// (erf) GELU MLP, biases everywhere, and the masked-LM head: dense + GELU + LayerNorm, then the tied decoder with its own bias.
    /// </summary>
    public static TransformerConfig Bert(int vocabSize, int contextLength, int layerCount, int headCount, int width, int intermediateSize) => new()
    {
        Family = TransformerFamilies.Bert,
        VocabSize = vocabSize,
        ContextLength = contextLength,
        LayerCount = layerCount,
        HeadCount = headCount,
        KeyValueHeadCount = headCount,
        Width = width,
        IntermediateSize = intermediateSize,
        NormEpsilon = 1e-12f,
        Activation = Activation.GeluExact,
        Causal = false,
        PreNorm = false,
        TokenTypeCount = 2,
        EmbeddingNorm = true,
        HeadTransform = true,
        HeadBias = true,
    };

    /// <summary>
    /// A T5-style encoder-decoder: shared token embedding, RMSNorm without bias (eps 1e-6), relative position buckets
    /// (32 buckets, max distance 128; bidirectional in the encoder, causal in the decoder, one table per stack shared by
    /// its layers), unscaled attention, no biases, pre-norm blocks, cross-attention in every decoder block, and a ReLU MLP
    /// with a tied head that scales the decoder's output by 1/√C (T5 1.0) or, <paramref name="gated"/>, a gated tanh-GELU
    /// MLP with an untied head (T5 1.1). headSize 0: width / headCount.
    /// </summary>
    public static TransformerConfig T5(int vocabSize, int contextLength, int layerCount, int decoderLayerCount, int headCount, int width,
        int intermediateSize, bool gated = false, int headSize = 0, int decoderStartToken = 0) => new()
    {
        Family = TransformerFamilies.T5,
        VocabSize = vocabSize,
        ContextLength = contextLength,
        LayerCount = layerCount,
        DecoderLayerCount = decoderLayerCount,
        HeadCount = headCount,
        KeyValueHeadCount = headCount,
        Width = width,
        IntermediateSize = intermediateSize,
        AttentionHeadSize = headSize,
        Norm = NormKind.RmsNorm,
        NormEpsilon = 1e-6f,
        Positions = PositionKind.Relative,
        RelativeAttentionBuckets = 32,
        RelativeAttentionMaxDistance = 128,
        Activation = gated ? Activation.GeluTanh : Activation.Relu,
        GatedMlp = gated,
        AttentionBias = false,
        MlpBias = false,
        NormBias = false,
        TiedEmbeddings = !gated,
        Causal = false,
        ScaledAttention = false,
        DecoderStartToken = decoderStartToken,
    };

    /// <summary>8·C/3 rounded up to a multiple of 32, the SwiGLU width that keeps the MLP's parameters near a 4·C GELU MLP's.</summary>
    public static int DefaultLlamaIntermediateSize(int width) => (int)((8L * width / 3 + 31) / 32 * 32);

    /// <summary>One line for people: "llama: 4 layers, 4 heads (2 key/value), width 128, MLP 352, context 256, vocabulary 4096".</summary>
    public string Summary
    {
        get
        {
            string heads = KeyValueHeadCount == HeadCount ? $"{HeadCount} heads" : $"{HeadCount} heads ({KeyValueHeadCount} key/value)";
            string layers = IsEncoderDecoder ? $"{LayerCount}+{DecoderLayerCount} layers (encoder+decoder)" : $"{LayerCount} layers";
            return $"{Family}: {layers}, {heads}, width {Width}, MLP {IntermediateSize}, context {ContextLength}, vocabulary {VocabSize}";
        }
    }

    /// <summary>The fields in which <paramref name="other"/> differs from this config, as "width 32 vs 64; ..." (empty when equal).</summary>
    public string DifferencesFrom(TransformerConfig other)
    {
        (string Name, object Mine, object Theirs)[] fields =
        [
            ("family", Family, other.Family), ("vocabulary", VocabSize, other.VocabSize), ("context", ContextLength, other.ContextLength),
            ("layers", LayerCount, other.LayerCount), ("heads", HeadCount, other.HeadCount), ("key/value heads", KeyValueHeadCount, other.KeyValueHeadCount),
            ("width", Width, other.Width), ("MLP width", IntermediateSize, other.IntermediateSize), ("norm", Norm, other.Norm),
            ("norm epsilon", NormEpsilon, other.NormEpsilon), ("positions", Positions, other.Positions), ("rope theta", RopeTheta, other.RopeTheta),
            ("activation", Activation, other.Activation), ("gated MLP", GatedMlp, other.GatedMlp), ("attention bias", AttentionBias, other.AttentionBias),
            ("MLP bias", MlpBias, other.MlpBias), ("norm bias", NormBias, other.NormBias), ("tied embeddings", TiedEmbeddings, other.TiedEmbeddings),
            ("causal", Causal, other.Causal), ("pre-norm", PreNorm, other.PreNorm), ("vocabulary padding", VocabPadding, other.VocabPadding),
            ("token types", TokenTypeCount, other.TokenTypeCount), ("embedding norm", EmbeddingNorm, other.EmbeddingNorm),
            ("head transform", HeadTransform, other.HeadTransform), ("head bias", HeadBias, other.HeadBias),
            ("decoder layers", DecoderLayerCount, other.DecoderLayerCount), ("head size", AttentionHeadSize, other.AttentionHeadSize),
            ("scaled attention", ScaledAttention, other.ScaledAttention), ("relative buckets", RelativeAttentionBuckets, other.RelativeAttentionBuckets),
            ("relative max distance", RelativeAttentionMaxDistance, other.RelativeAttentionMaxDistance),
            ("decoder start token", DecoderStartToken, other.DecoderStartToken),
        ];
        return string.Join("; ", fields.Where(f => !f.Mine.Equals(f.Theirs)).Select(f => $"{f.Name} {f.Mine} vs {f.Theirs}"));
    }

    /// <summary>Throws ArgumentException naming the first field that is out of range.</summary>
    public void Validate()
    {
        if (!TransformerFamilies.All.Contains(Family))
            throw Invalid(nameof(Family), $"is \"{Family}\", expected one of {string.Join(", ", TransformerFamilies.All)}");
        if (VocabSize < 1) throw Invalid(nameof(VocabSize), $"must be >= 1, got {VocabSize}");
        if (ContextLength < 1) throw Invalid(nameof(ContextLength), $"must be >= 1, got {ContextLength}");
        if (LayerCount < 1) throw Invalid(nameof(LayerCount), $"must be >= 1, got {LayerCount}");
        if (HeadCount < 1) throw Invalid(nameof(HeadCount), $"must be >= 1, got {HeadCount}");
        if (AttentionHeadSize < 0) throw Invalid(nameof(AttentionHeadSize), $"must be >= 0, got {AttentionHeadSize}");
        if (Width < 1 || (AttentionHeadSize == 0 && Width % HeadCount != 0))
            throw Invalid(nameof(Width), $"must be a positive multiple of HeadCount {HeadCount}, got {Width}");
        if (KeyValueHeadCount < 1 || HeadCount % KeyValueHeadCount != 0)
            throw Invalid(nameof(KeyValueHeadCount), $"must divide HeadCount {HeadCount}, got {KeyValueHeadCount}");
        if (IntermediateSize < 1) throw Invalid(nameof(IntermediateSize), $"must be >= 1, got {IntermediateSize}");
        if (!(NormEpsilon > 0f)) throw Invalid(nameof(NormEpsilon), $"must be > 0, got {NormEpsilon}");
        if (Positions == PositionKind.Rotary && HeadSize % 2 != 0)
            throw Invalid(nameof(Positions), $"rotary embeddings need an even head size, got {HeadSize} (Width {Width} / HeadCount {HeadCount})");
        if (Positions == PositionKind.Rotary && !(RopeTheta > 1f)) throw Invalid(nameof(RopeTheta), $"must be > 1, got {RopeTheta}");
        if (TokenTypeCount < 0) throw Invalid(nameof(TokenTypeCount), $"must be >= 0, got {TokenTypeCount}");
        if (VocabPadding < 0) throw Invalid(nameof(VocabPadding), $"must be >= 0, got {VocabPadding}");
        if (DecoderLayerCount < 0) throw Invalid(nameof(DecoderLayerCount), $"must be >= 0, got {DecoderLayerCount}");
        if ((Family == TransformerFamilies.T5) != IsEncoderDecoder)
            throw Invalid(nameof(DecoderLayerCount), $"is {DecoderLayerCount}: a t5 model has a decoder stack (>= 1 layers), the other families none");
        if (Positions == PositionKind.Relative)
        {
            if (RelativeAttentionBuckets < 2) throw Invalid(nameof(RelativeAttentionBuckets), $"must be >= 2 with relative positions, got {RelativeAttentionBuckets}");
            if (RelativeAttentionMaxDistance < RelativeAttentionBuckets / 2)
                throw Invalid(nameof(RelativeAttentionMaxDistance), $"must be >= half the buckets ({RelativeAttentionBuckets / 2}), got {RelativeAttentionMaxDistance}");
        }
        if (DecoderStartToken < 0 || DecoderStartToken >= VocabSize)
            throw Invalid(nameof(DecoderStartToken), $"must be a token id in [0, {VocabSize}), got {DecoderStartToken}");
        if (Norm == NormKind.RmsNorm && NormBias) throw Invalid(nameof(NormBias), "must be false with RMSNorm (it has no bias)");
    }

    private static ArgumentOutOfRangeException Invalid(string field, string message) => new(field, $"TransformerConfig.{field} {message}");
}

/// <summary>The model families a <see cref="TransformerConfig"/> can name.</summary>
public static class TransformerFamilies
{
    public const string Gpt2 = "gpt2";
    public const string Llama = "llama";
    public const string Bert = "bert";
    public const string T5 = "t5";

    public static IReadOnlyList<string> All { get; } = [Gpt2, Llama, Bert, T5];
}
