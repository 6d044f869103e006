namespace LmForge.Tokenization.Training;

public enum BpeTrainingPhase
{
    /// <summary>Reading and pre-tokenizing the corpus into a word → count table.</summary>
    CountingWords,
    /// <summary>Learning merges from the word counts.</summary>
    Merging,
    Done,
}

/// <summary>
/// A snapshot of training progress. During <see cref="BpeTrainingPhase.CountingWords"/>, <see cref="BytesRead"/>
/// of <see cref="TotalBytes"/> (on-disk bytes; 0 when unknown) and <see cref="WordsCounted"/> (pre-tokenized
/// pieces so far) grow; during <see cref="BpeTrainingPhase.Merging"/>, <see cref="MergesDone"/> grows towards
/// <see cref="MergesTarget"/>.
/// </summary>
public readonly record struct BpeTrainingProgress(
    BpeTrainingPhase Phase,
    long BytesRead,
    long TotalBytes,
    long WordsCounted,
    int DistinctWords,
    int MergesDone,
    int MergesTarget);
