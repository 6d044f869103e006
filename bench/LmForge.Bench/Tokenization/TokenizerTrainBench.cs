using System.Diagnostics;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;

namespace LmForge.Bench.Tokenization;

// tokenizer-train: trains a byte-level BPE on a corpus and reports pre-tokenization MB/s, merges/s and total
// time. Usage: tokenizer-train --corpus FILE|DIR [--vocab 32768] [--threads N] [--save tokenizer.json]
// A corpus: bench/LmForge.Bench/Tokenization/make_english_corpus.py (100 MB of English from Debian/npm text).
public static class TokenizerTrainBench
{
    public static int Run(string[] args)
    {
        string? corpus = Arg(args, "--corpus");
        if (corpus is null)
        {
            Console.Error.WriteLine("usage: tokenizer-train --corpus FILE|DIR [--vocab 32768] [--threads N] [--save tokenizer.json]");
            return 2;
        }
        int vocab = int.Parse(Arg(args, "--vocab") ?? "32768");
        int threads = int.Parse(Arg(args, "--threads") ?? Environment.ProcessorCount.ToString());

        var clock = Stopwatch.StartNew();
        TimeSpan countingEnd = TimeSpan.Zero;
        long bytes = 0, pieces = 0;
        int distinct = 0;
        var progress = new InlineProgress(p =>
        {
            if (p.Phase == BpeTrainingPhase.Merging && countingEnd == TimeSpan.Zero)
            {
                countingEnd = clock.Elapsed;
                (bytes, pieces, distinct) = (p.BytesRead, p.WordsCounted, p.DistinctWords);
            }
        });
        var options = new BpeTrainerOptions { VocabSize = vocab, Threads = threads, Progress = progress };
        var bpe = new BpeTrainer(options).Train(corpus);
        var total = clock.Elapsed;
        var merging = total - countingEnd;

        Console.WriteLine($"corpus {corpus}: {bytes / 1e6:F1} MB on disk, {pieces:N0} pieces, {distinct:N0} distinct");
        Console.WriteLine($"pre-tokenize ({threads} threads): {countingEnd.TotalSeconds:F2} s, {bytes / 1e6 / countingEnd.TotalSeconds:F1} MB/s");
        Console.WriteLine($"merges: {bpe.Merges.Count:N0} in {merging.TotalSeconds:F2} s, {bpe.Merges.Count / merging.TotalSeconds:N0} merges/s");
        Console.WriteLine($"total: {total.TotalSeconds:F2} s for vocabulary {bpe.VocabSize:N0}{(bpe.RanOutOfPairs ? " (ran out of pairs)" : "")}");
        if (Arg(args, "--save") is { } save)
            HuggingFaceTokenizerWriter.Write(bpe, save);
        return 0;
    }

    static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    sealed class InlineProgress(Action<BpeTrainingProgress> report) : IProgress<BpeTrainingProgress>
    {
        public void Report(BpeTrainingProgress value) => report(value);
    }
}
