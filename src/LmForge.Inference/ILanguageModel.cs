namespace LmForge.Inference;

/// <summary>
/// What generation needs from a model: the distribution of the next token after a context. Implementations without a
/// KV cache recompute the whole context; a cached implementation (a later issue) keeps the same contract.
/// </summary>
public interface ILanguageModel
{
    int VocabularySize { get; }

    /// <summary>The longest context the model attends to; longer contexts are cut to their last ContextLength tokens.</summary>
    int ContextLength { get; }

    /// <summary>Writes the logits (VocabularySize) of the token that follows <paramref name="context"/> (1..ContextLength tokens).</summary>
    void NextTokenLogits(ReadOnlySpan<int> context, Span<float> logits);
}
