using System.Runtime.CompilerServices;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Training;

/// <summary>
/// Trains a byte-level BPE vocabulary: pre-tokenize the corpus in parallel into a piece → count table
/// (<see cref="WordCounter"/>), then learn merges with incremental pair counts (<see cref="PairMergeLoop"/>).
/// <code>
/// var bpe = new BpeTrainer(new BpeTrainerOptions { VocabSize = 32768 }).Train("corpus.jsonl.gz");
/// </code>
/// </summary>
public sealed class BpeTrainer
{
    readonly BpeTrainerOptions options;
    readonly SplitPattern split;

    public BpeTrainer(BpeTrainerOptions? options = null)
    {
        this.options = options ?? new BpeTrainerOptions();
        int specials = this.options.SpecialTokens.Count;
        if (this.options.VocabSize < 256 + specials)
            ThrowBadOption($"vocabulary size {this.options.VocabSize} is too small: it must be at least 256 byte tokens + {specials} special tokens = {256 + specials}");
        if (this.options.Threads < 1)
            ThrowBadOption($"threads must be at least 1, got {this.options.Threads}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var special in this.options.SpecialTokens)
        {
            if (string.IsNullOrEmpty(special))
                ThrowBadOption("a special token is empty");
            if (!seen.Add(special))
                ThrowBadOption($"special token {special} is listed twice");
        }
        split = this.options.Pattern ?? throw new ArgumentException("BpeTrainerOptions: Pattern is null");
    }

    /// <summary>Trains on a corpus file or a directory of them (.txt, .jsonl, .ndjson, each optionally .gz).</summary>
    public TrainedBpe Train(string path) => TrainOnFiles(CorpusReader.ListFiles(path));

    public TrainedBpe TrainOnFiles(IReadOnlyList<string> files)
    {
        long totalBytes = CorpusReader.TotalBytes(files);
        long bytesRead = 0;
        var counter = new WordCounter(split, options.Threads);
        var chunks = CorpusReader.ReadChunks(files, options.ChunkBytes, read => bytesRead = read);
        var table = counter.CountChunks(chunks, () => options.Progress?.Report(
            new BpeTrainingProgress(BpeTrainingPhase.CountingWords, bytesRead, totalBytes, counter.PiecesCounted, 0, 0, MergeTarget)));
        if (table.Count == 0)
            throw new InvalidDataException($"{string.Join(", ", files.Take(3))}{(files.Count > 3 ? ", ..." : "")}: the corpus has no text to train on");
        return TrainOnCounts(table, counter.PiecesCounted, bytesRead);
    }

    /// <summary>Trains on in-memory documents.</summary>
    public TrainedBpe TrainOnTexts(IEnumerable<string> texts)
    {
        var counter = new WordCounter(split, 1);
        var table = new Dictionary<string, long>();
        foreach (var text in texts)
            counter.CountText(text, table);
        if (table.Count == 0)
            throw new ArgumentException("the corpus has no text to train on", nameof(texts));
        return TrainOnCounts(table, counter.PiecesCounted, 0);
    }

    /// <summary>Learns merges from a piece → count table (pieces as produced by the split pattern).</summary>
    public TrainedBpe TrainOnCounts(IReadOnlyDictionary<string, long> pieceCounts, long piecesCounted = 0, long bytesRead = 0)
    {
        var loop = new PairMergeLoop(WordCounter.ToUtf8(pieceCounts as Dictionary<string, long> ?? new(pieceCounts)));
        int target = MergeTarget;
        var progress = options.Progress;
        progress?.Report(new BpeTrainingProgress(BpeTrainingPhase.Merging, bytesRead, bytesRead, piecesCounted, pieceCounts.Count, 0, target));
        bool complete = loop.Run(256 + target, merges =>
        {
            if ((merges & 63) == 0)
                progress?.Report(new BpeTrainingProgress(BpeTrainingPhase.Merging, bytesRead, bytesRead, piecesCounted, pieceCounts.Count, loop.Tokens.Count - 256, target));
        });
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var special in options.SpecialTokens)
            specials.Add(special, loop.Tokens.Count + specials.Count);
        progress?.Report(new BpeTrainingProgress(BpeTrainingPhase.Done, bytesRead, bytesRead, piecesCounted, pieceCounts.Count, loop.Tokens.Count - 256, target));
        return new TrainedBpe(loop.Tokens, loop.Merges, split, specials, !complete);
    }

    int MergeTarget => options.VocabSize - 256 - options.SpecialTokens.Count;

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowBadOption(string what) => throw new ArgumentException($"BpeTrainerOptions: {what}");
}
