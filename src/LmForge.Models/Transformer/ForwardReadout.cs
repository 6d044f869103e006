using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>What a forward leaves for the host to read, for both model classes: per-position losses and most likely tokens.</summary>
internal static class ForwardReadout
{
    // losses (one per target position) of a forward with targets whose backward has not run; null: no forward yet
    public static void CopyLosses(IBackend backend, Tensor? losses, bool readable, Span<float> destination)
    {
        if (losses is null || !readable) throw new InvalidOperationException("CopyTokenLosses needs a Forward with targets first (and before its Backward)");
        if (destination.Length != losses.Length)
            throw new ArgumentException($"losses holds {destination.Length} values, expected {losses.Length} (one per target position of the last forward)", nameof(destination));
        backend.CopyToHost(losses, destination);
    }

    // the argmax over the real vocabulary of each row of the last forward's logits, through the Int32 scratch predictions
    public static void PredictTokens(IBackend backend, Tensor? predictions, Tensor? logits, bool overwritten, int vocabSize, Span<int> destination)
    {
        if (predictions is null || logits is null) throw new InvalidOperationException("no forward pass has run yet");
        if (overwritten) throw new InvalidOperationException("the logits were overwritten by Backward; predict after the forward, before its backward");
        if (destination.Length != predictions.Length)
            throw new ArgumentException($"tokens holds {destination.Length} ids, expected {predictions.Length} (one per target position of the last forward)", nameof(destination));
        backend.ArgMax(predictions, logits, vocabSize);
        backend.CopyToHost(predictions, destination);
    }
}
