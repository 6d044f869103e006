namespace LmForge.Inference;

/// <summary>
/// Autoregressive generation: extends a prompt's tokens one sampled token at a time, streaming each as it is chosen.
/// The context passed to the model is the last ContextLength tokens. Decoding tokens to text is the caller's (the
/// tokenizer's incremental decoder), so this works for any tokenizer.
/// </summary>
public sealed class Generator(ILanguageModel model)
{
    public ILanguageModel Model { get; } = model;

    /// <summary>Yields up to MaxTokens new tokens after <paramref name="prompt"/>, stopping early at <paramref name="stopToken"/> (not yielded).</summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, SamplingOptions options, int? stopToken = null, CancellationToken cancellation = default)
    {
        options.Validate();
        if (prompt.Count == 0) throw new ArgumentException("the prompt has no tokens; give at least one (e.g. the end-of-text token)", nameof(prompt));
        var sampler = new TokenSampler(options, Model.VocabularySize);
        var tokens = new List<int>(prompt.Count + options.MaxTokens);
        tokens.AddRange(prompt);
        var logits = new float[Model.VocabularySize];
        for (int i = 0; i < options.MaxTokens && !cancellation.IsCancellationRequested; i++)
        {
            int start = Math.Max(0, tokens.Count - Model.ContextLength);
            Model.NextTokenLogits(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens)[start..], logits);
            int next = sampler.Sample(logits);
            if (next == stopToken) yield break;
            tokens.Add(next);
            yield return next;
        }
    }
}
