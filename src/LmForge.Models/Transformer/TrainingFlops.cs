namespace LmForge.Models.Transformer;

/// <summary>
/// What a training step of a configuration costs, computed from its parameter layout (<see cref="TransformerModel.DescribeLayout"/>,
/// <see cref="EncoderDecoderModel.DescribeLayout"/>) without allocating a model: FLOPs per token for the trainer's MFU and
/// lmforge plan alike, and the activation memory of a batch.
/// </summary>
public static class TrainingFlops
{
    /// <summary>
    /// The share of an encoder-decoder's input length that its targets take when the caller does not say (T5's span
    /// corruption at its defaults gives 115 targets for 512 inputs; 0.25 rounds that up).
    /// </summary>
    public const double DefaultTargetShare = 0.25;

    /// <summary>
    /// Training FLOPs (forward + backward) per input token at sequence length T. A single stack: 6 per parameter that
    /// multiplies (every one but the lookup tables: an untied token embedding, learned positions, token types; a tied token
    /// embedding is the head's matrix and counts) plus attention's 12·L·(NH·hs)·T (PaLM appendix B, as llm.c: every key,
    /// the causal mask's skipped half included). An encoder-decoder, per input token: 6 per parameter the
    /// token passes (the encoder's layers for every input token; the decoder's layers and the head for each of the
    /// Td/T target tokens per input token; the shared embedding not at all, a lookup), plus 12·(NH·hs) per key in each
    /// self- and cross-attention layer. <paramref name="targetLength"/> is the decoder's length Td (0:
    /// <see cref="DefaultTargetShare"/>·T); a single stack ignores it.
    /// </summary>
    public static double PerToken(TransformerConfig config, int sequenceLength, int targetLength = 0)
    {
        double heads = (double)config.HeadCount * config.HeadSize;
        if (!config.IsEncoderDecoder)
        {
            var names = TransformerNames.For(config.Family);
            string[] lookups = config.TiedEmbeddings
                ? [names.PositionEmbedding + ".weight", names.TokenTypeEmbedding + ".weight"]
                : [names.TokenEmbedding + ".weight", names.PositionEmbedding + ".weight", names.TokenTypeEmbedding + ".weight"];
            long multiplying = TransformerModel.DescribeLayout(config).Where(p => !lookups.Contains(p.Name)).Sum(p => p.Length);
            return (6.0 * multiplying) + (12.0 * config.LayerCount * heads * sequenceLength);
        }
        double targetShare = targetLength <= 0 ? DefaultTargetShare : (double)targetLength / sequenceLength;
        long encoder = 0, decoder = 0, head = config.TiedEmbeddings ? (long)config.PaddedVocabSize * config.Width : 0;
        foreach (var p in EncoderDecoderModel.DescribeLayout(config))
        {
            if (p.Name.StartsWith("encoder.", StringComparison.Ordinal)) encoder += p.Length;
            else if (p.Name.StartsWith("decoder.", StringComparison.Ordinal)) decoder += p.Length;
            else if (p.Name.StartsWith("lm_head", StringComparison.Ordinal)) head += p.Length;
        }
        double targets = targetShare * sequenceLength;
        double attention = 12.0 * heads * ((config.LayerCount * sequenceLength) + (targetShare * config.DecoderLayerCount * (targets + sequenceLength)));
        return (6.0 * encoder) + (6.0 * targetShare * (decoder + head)) + attention;
    }

    /// <summary>The parameter count a configuration implies (equal to the built model's <c>ParameterCount</c>).</summary>
    public static long ParameterCount(TransformerConfig config) =>
        (config.IsEncoderDecoder ? EncoderDecoderModel.DescribeLayout(config) : TransformerModel.DescribeLayout(config)).Sum(p => p.Length);

    /// <summary>
    /// Bytes of the float32 activations a training step of B×T tokens (an encoder-decoder: B×T inputs, B×Td targets)
    /// keeps, counted from the tensors the activation plan allocates (an estimate: int32 ids and masks left out). Per
    /// layer and token: the block's input (the residual stream), its two norm outputs and mid residual (4·C), the
    /// fused q|k|v projection, the attention output (NH·hs) and log-sum-exp (NH), the MLP's up projection and its
    /// activation (gated: 2·I and I; else I and I), 4 norm statistics; a decoder layer of an encoder-decoder adds its
    /// cross-attention (2·C + q (NH·hs) + output (NH·hs) + NH, plus k|v of the memory per input token). Per token once:
    /// the logits (padded vocabulary) and the backward's shared scratch (3·C + NH·hs + the wider of q|k|v and the up projection).
    /// </summary>
    public static long ActivationBytes(TransformerConfig config, int batchSize, int sequenceLength, int targetLength = 0)
    {
        long c = config.Width, heads = (long)config.HeadCount * config.HeadSize, kvHeads = (long)config.KeyValueHeadCount * config.HeadSize;
        long fused = heads + (2 * kvHeads);
        long up = config.GatedMlp ? 2L * config.IntermediateSize : config.IntermediateSize;
        long perLayer = (4 * c) + fused + heads + config.HeadCount + up + config.IntermediateSize + 4;
        long perToken = (3 * c) + heads + Math.Max(fused, up) + (config.GatedMlp ? config.IntermediateSize : 0);
        long b = batchSize, t = sequenceLength;
        if (!config.IsEncoderDecoder)
        {
            long floats = b * t * ((config.LayerCount * perLayer) + c + config.PaddedVocabSize + perToken + 1);
            return floats * sizeof(float);
        }
        long td = targetLength > 0 ? targetLength : (long)Math.Ceiling(DefaultTargetShare * sequenceLength);
        long cross = (2 * c) + heads + heads + config.HeadCount + 2;
        long encoderFloats = b * t * ((config.LayerCount * perLayer) + c + perToken + (2 * c) + (config.DecoderLayerCount * 2 * kvHeads));
        long decoderFloats = b * td * ((config.DecoderLayerCount * (perLayer + cross)) + c + config.PaddedVocabSize + perToken + 1 + c);
        return (encoderFloats + decoderFloats) * sizeof(float);
    }
}
