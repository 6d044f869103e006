using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tokenization;

namespace LmForge.Inference;

/// <summary>One candidate for a masked position: the token's text and its probability.</summary>
public readonly record struct MaskCandidate(int Token, string Text, float Probability);

/// <summary>
/// What an encoder (a BERT trained on the masked objective) predicts for each [MASK] in a text: one forward pass over
/// the whole text, then at each masked position the softmax over the ordinary tokens (special tokens are never
/// candidates), most likely first. A text of two segments, "first [SEP] second", gives the second its own token type
/// (1 after the first [SEP]), as BERT reads sentence pairs.
/// </summary>
public static class MaskFilling
{
    /// <summary>The <paramref name="top"/> candidates for every [MASK] of <paramref name="text"/>, in the order the masks appear.</summary>
    /// <exception cref="InvalidOperationException">The model is a decoder (it predicts the next token, not masked ones).</exception>
    /// <exception cref="ArgumentException">The text has no [MASK], is longer than the context, or the tokenizer has no [MASK].</exception>
    public static IReadOnlyList<IReadOnlyList<MaskCandidate>> Fill(TransformerModel model, BpeTokenizer tokenizer, string text, int top = 5)
    {
        if (model.Config.Causal)
            throw new InvalidOperationException($"a {model.Config.Family} model predicts the next token, not masked ones; fill-mask needs an encoder (a bert checkpoint); for a decoder use lmforge sample");
        if (!tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Mask, out int mask))
            throw new ArgumentException($"tokenizer {tokenizer.Name} has no {EncoderTokens.Mask} token; an encoder for fill-mask is trained with one (lmforge tokenizer train --encoder)");
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        int[] tokens = tokenizer.Encode(text, SpecialTokenSet.All);
        int[] masked = [.. Enumerable.Range(0, tokens.Length).Where(i => tokens[i] == mask)];
        if (masked.Length == 0) throw new ArgumentException($"the text has no {EncoderTokens.Mask}; put {EncoderTokens.Mask} where a word should be predicted");
        if (tokens.Length > model.Config.ContextLength)
            throw new ArgumentException($"the text takes {tokens.Length} tokens; the model reads at most {model.Config.ContextLength}");
        var special = tokenizer.SpecialTokens.Values.ToHashSet();

        int[] types = [];
        if (model.Config.TokenTypeCount > 1 && tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Sep, out int sep))
        {
            int firstSep = Array.IndexOf(tokens, sep);
            if (firstSep >= 0 && firstSep < tokens.Length - 1) types = [.. tokens.Select((_, i) => i > firstSep ? 1 : 0)];
        }
        model.Forward(tokens, 1, tokens.Length, tokenTypes: types);
        float[] logits = model.Backend.ToHost(model.Logits);
        int v = model.Config.VocabSize, vp = model.Config.PaddedVocabSize;
        var result = new List<IReadOnlyList<MaskCandidate>>(masked.Length);
        foreach (int position in masked)
        {
            float[] row = logits.AsSpan(position * vp, v).ToArray();
            float max = float.NegativeInfinity;
            for (int id = 0; id < v; id++) if (!special.Contains(id)) max = Math.Max(max, row[id]);
            double sum = 0;
            for (int id = 0; id < v; id++) if (!special.Contains(id)) sum += Math.Exp(row[id] - max);
            var best = Enumerable.Range(0, v).Where(id => !special.Contains(id)).OrderByDescending(id => row[id]).Take(top)
                .Select(id => new MaskCandidate(id, tokenizer.DecodeText([id]), (float)(Math.Exp(row[id] - max) / sum)))
                .ToList();
            result.Add(best);
        }
        return result;
    }
}
