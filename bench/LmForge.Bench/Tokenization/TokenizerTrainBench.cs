using System.Diagnostics;
using LmForge.Tokenization;
using LmForge.Tokenization.Corpus;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;

namespace LmForge.Bench.Tokenization;

// tokenizer-train: trains a byte-level BPE on a corpus and reports pre-tokenization MB/s, merges/s and total time;
// then, when the Node peers are installed, Hugging Face tokenizers' BPE trainer and LmForge on the same text file
// at the same vocabulary size (30,000: the only size the Node binding's trainer offers), and their ratio.
// Usage: tokenizer-train --corpus FILE|DIR [--vocab 32768] [--threads N] [--save tokenizer.json] [--no-peer]
// A corpus: bench/LmForge.Bench/Tokenization/make_english_corpus.py (100 MB of English from Debian/npm text).
public static class TokenizerTrainBench
{
    const int PeerVocab = 30000;

    public static int Run(string[] args)
    {
        string? corpus = Arg(args, "--corpus");
        if (corpus is null)
        {
            Console.Error.WriteLine("usage: tokenizer-train --corpus FILE|DIR [--vocab 32768] [--threads N] [--save tokenizer.json] [--no-peer]");
            return 2;
        }
        int vocab = int.Parse(Arg(args, "--vocab") ?? "32768");
        int threads = int.Parse(Arg(args, "--threads") ?? Environment.ProcessorCount.ToString());
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load average before: {LoadAverage()}");

        var (bpe, _, _) = Train(corpus, vocab, threads, verbose: true);
        if (Arg(args, "--save") is { } save)
            HuggingFaceTokenizerWriter.Write(bpe, save);

        if (args.Contains("--no-peer"))
            return 0;
        string? peers = NodePeers.Directory();
        if (peers is null)
        {
            Console.WriteLine("peer: Hugging Face tokenizers not installed (npm install --prefix bench/LmForge.Bench/Tokenization/peers); skipped");
            return 0;
        }
        // The peer trains on lines of a text file: give both trainers the same text.
        string text = Path.Combine(Path.GetTempPath(), $"lmforge-train-bench-{Environment.ProcessId}.txt");
        try
        {
            WriteAsText(CorpusReader.ListFiles(corpus), text);
            string? output = NodePeers.Run(peers, "hf_train.js", text, SplitPattern.Cl100k.Regex);
            if (output is null)
                return 1;
            double hfSeconds = NodePeers.Field(output, "seconds", "seconds");
            double hfCpu = NodePeers.Field(output, "seconds", "cpu");
            var (_, ours, oursCpu) = Train(text, PeerVocab, threads, verbose: false);
            Console.WriteLine($"same text file, vocabulary {PeerVocab}: LmForge {ours.TotalSeconds:F2} s wall / {oursCpu.TotalSeconds:F2} s CPU, " +
                $"Hugging Face tokenizers {hfSeconds:F2} s wall / {hfCpu:F2} s CPU");
            Console.WriteLine($"ratio LmForge/HF: wall {ours.TotalSeconds / hfSeconds:F2}, CPU {oursCpu.TotalSeconds / hfCpu:F2} (below 1 = LmForge faster); load average after: {LoadAverage()}");
        }
        finally
        {
            File.Delete(text);
        }
        return 0;
    }

    static (TrainedBpe Bpe, TimeSpan Total, TimeSpan Cpu) Train(string corpus, int vocab, int threads, bool verbose)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        TimeSpan countingEnd = TimeSpan.Zero, countingCpu = TimeSpan.Zero;
        long bytes = 0, pieces = 0;
        int distinct = 0;
        var progress = new InlineProgress(p =>
        {
            if (p.Phase == BpeTrainingPhase.Merging && countingEnd == TimeSpan.Zero)
            {
                countingEnd = clock.Elapsed;
                countingCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                (bytes, pieces, distinct) = (p.BytesRead, p.WordsCounted, p.DistinctWords);
            }
        });
        var options = new BpeTrainerOptions { VocabSize = vocab, Threads = threads, Progress = progress };
        var bpe = new BpeTrainer(options).Train(corpus);
        var total = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var merging = total - countingEnd;
        if (verbose)
        {
            Console.WriteLine($"corpus {corpus}: {bytes / 1e6:F1} MB on disk, {pieces:N0} pieces, {distinct:N0} distinct");
            Console.WriteLine($"pre-tokenize ({threads} threads): {countingEnd.TotalSeconds:F2} s wall ({countingCpu.TotalSeconds:F2} s CPU), {bytes / 1e6 / countingEnd.TotalSeconds:F1} MB/s");
            Console.WriteLine($"merges: {bpe.Merges.Count:N0} in {merging.TotalSeconds:F2} s wall ({(cpu - countingCpu).TotalSeconds:F2} s CPU), {bpe.Merges.Count / merging.TotalSeconds:N0} merges/s");
            Console.WriteLine($"GC: {GC.GetTotalPauseDuration().TotalSeconds:F2} s paused, {GC.CollectionCount(2)} gen2 collections, peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
            Console.WriteLine($"total: {total.TotalSeconds:F2} s wall, {cpu.TotalSeconds:F2} s CPU, vocabulary {bpe.VocabSize:N0}{(bpe.RanOutOfPairs ? " (ran out of pairs)" : "")}");
        }
        return (bpe, total, cpu);
    }

    static void WriteAsText(IReadOnlyList<string> files, string path)
    {
        using var output = new StreamWriter(path);
        foreach (var chunk in CorpusReader.ReadChunks(files))
        {
            if (chunk.Format == CorpusFormat.Text)
                output.Write(CorpusDocuments.DecodeText(chunk));
            else
                CorpusDocuments.ForEachJsonlText(chunk, text => { output.Write(text); output.Write("\n\n"); });
        }
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    internal static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    sealed class InlineProgress(Action<BpeTrainingProgress> report) : IProgress<BpeTrainingProgress>
    {
        public void Report(BpeTrainingProgress value) => report(value);
    }
}
