using LmForge.Models.Transformer;
using LmForge.Tokenization;

namespace LmForge.Inference;

/// <summary>One input's decoded answer: its tokens (the end token excluded), its text, and why decoding stopped.</summary>
public sealed record SpanAnswer(int[] Tokens, string Text, bool ReachedEnd);

/// <summary>
/// What an encoder-decoder (a T5 trained on span corruption) writes for inputs, such as "text with &lt;extra_id_0&gt; in
/// it": the inputs are encoded once, together (padded to the longest, the padding hidden), and the decoder then runs one
/// token per input per step against its cache, from the model's decoder start token until the end token or the token
/// limit, each input with its own sampler (greedy at temperature 0).
/// </summary>
public static class SpanGeneration
{
    /// <param name="endToken">The end token: closes each input (as in training) and stops its answer.</param>
    /// <exception cref="ArgumentException">An input is empty or longer than the model's context.</exception>
    public static IReadOnlyList<SpanAnswer> Generate(EncoderDecoderModel model, BpeTokenizer tokenizer, IReadOnlyList<string> texts, SamplingOptions options,
        int endToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(texts.Count);
        options.Validate();
        var config = model.Config;
        var inputs = new List<int[]>(texts.Count);
        foreach (string text in texts)
        {
            int[] tokens = [.. tokenizer.Encode(text, SpecialTokenSet.All), endToken];
            if (tokens.Length > config.ContextLength)
                throw new ArgumentException($"the input \"{Shorten(text)}\" takes {tokens.Length} tokens with its end token; the model reads at most {config.ContextLength}");
            inputs.Add(tokens);
        }
        int batch = inputs.Count, longest = inputs.Max(x => x.Length), v = config.VocabSize;
        int steps = Math.Min(options.MaxTokens + 1, config.ContextLength);
        var padded = new int[batch * longest];
        var lengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            inputs[b].CopyTo(padded, b * longest);
            padded.AsSpan((b * longest) + inputs[b].Length, longest - inputs[b].Length).Fill(endToken); // hidden by the mask
            lengths[b] = inputs[b].Length;
        }

        using var cache = model.CreateCache(batch, longest, steps);
        cache.Encode(padded, lengths);
        var samplers = Enumerable.Range(0, batch)
            .Select(b => new TokenSampler(options.Seed is ulong seed ? options with { Seed = seed + (ulong)b } : options, v)).ToArray();
        var answers = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var finished = new bool[batch];
        var next = Enumerable.Repeat(config.DecoderStartToken, batch).ToArray();
        var logits = new float[batch * v];
        var seen = new bool[batch][];
        for (int b = 0; b < batch; b++) seen[b] = new bool[v];
        for (int step = 0; step < steps - 1 && finished.Contains(false); step++)
        {
            cache.Decode(next, logits);
            for (int b = 0; b < batch; b++)
            {
                if (finished[b]) continue; // keeps decoding its last token; the result is ignored
                int token = samplers[b].Sample(logits.AsSpan(b * v, v), seen[b]);
                if (token == endToken)
                {
                    finished[b] = true;
                    continue;
                }
                answers[b].Add(token);
                seen[b][token] = true;
                next[b] = token;
            }
        }
        return [.. answers.Select((tokens, b) => new SpanAnswer([.. tokens], tokenizer.DecodeText([.. tokens]), finished[b]))];
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
