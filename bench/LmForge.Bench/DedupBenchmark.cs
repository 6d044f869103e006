using System.Diagnostics;
using System.Globalization;
using System.Text;
using LmForge.Data.Dedup;
using LmForge.Data.Filters.Quality;
using LmForge.Data.LanguageId;
using LmForge.Data.Pipeline;

namespace LmForge.Bench;

/// <summary>
/// `dedup` suite: MinHash dedup of N synthetic documents (30% near duplicates) through its four stages with one task
/// per core, language identification and the quality filters per core, and managed allocation per document. The peer
/// measured in the same run is the cheapest possible pass over the same text (generating it and UTF-8 encoding it),
/// so each figure is also given as a multiple of that pass.
/// Usage: dedup [--documents 1000000] [--tasks CORES]
/// </summary>
public static class DedupBenchmark
{
    private static readonly string[] Vocabulary = BuildVocabulary();

    public static int Run(string[] args)
    {
        int documents = IntOption(args, "--documents", 1_000_000);
        int tasks = IntOption(args, "--tasks", Environment.ProcessorCount);
        Console.WriteLine($"dedup suite: {documents:N0} documents, {tasks} tasks, {Environment.ProcessorCount} cores, {RuntimeInformationLine()}");

        double baseline = Baseline(documents, tasks, out long bytes);
        Console.WriteLine($"peer: generate + UTF-8 encode, {tasks} tasks: {baseline:F2} s, {documents / baseline:N0} docs/s, {bytes / baseline / 1e6:F1} MB/s ({bytes / 1e6:F0} MB)");
        MinHash(documents, tasks, baseline);
        PerCore(Math.Min(documents, 50_000));
        return 0;
    }

    // Document i: 60-120 words; 30% (i % 10 < 3, i >= 10) copy the original i - i % 10 + 5 with one word replaced
    // (Jaccard similarity of the 5-gram sets 0.84-0.92).
    private static Document Generate(int i)
    {
        bool duplicate = i % 10 < 3 && i >= 10;
        int source = duplicate ? i - i % 10 + 5 : i;
        var random = new Random(source * 7919 + 17);
        int count = random.Next(60, 121);
        var words = new string[count];
        for (int k = 0; k < count; k++) words[k] = Vocabulary[random.Next(Vocabulary.Length)];
        if (duplicate)
        {
            var edit = new Random(i);
            words[edit.Next(count)] = Vocabulary[edit.Next(Vocabulary.Length)];
        }
        return new Document(i.ToString(CultureInfo.InvariantCulture), string.Join(' ', words) + ".");
    }

    private static IEnumerable<Document> Share(int documents, int rank, int tasks)
    {
        for (int i = rank; i < documents; i += tasks) yield return Generate(i);
    }

    private static double Baseline(int documents, int tasks, out long bytes)
    {
        long total = 0;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = tasks }, rank =>
        {
            long mine = 0;
            foreach (var d in Share(documents, rank, tasks)) mine += Encoding.UTF8.GetByteCount(d.Text);
            Interlocked.Add(ref total, mine);
        });
        bytes = total;
        return clock.Elapsed.TotalSeconds;
    }

    private static void MinHash(int documents, int tasks, double baseline)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"lmforge-bench-minhash-{Environment.ProcessId}");
        var stats = new PipelineStats();
        var times = new List<(string Stage, double Seconds)>
        {
            ("1 signatures", Time(() => RunTasks(tasks, r => new MinHashSignatureStage(folder).Run(Share(documents, r, tasks), new TaskContext(r, tasks, stats)).Count()))),
            ("2 buckets", Time(() => RunTasks(tasks, r => new MinHashBucketStage(folder).Run([], new TaskContext(r, tasks, stats)).Count()))),
            ("3 cluster", Time(() => new MinHashClusterStage(folder).Run([], new TaskContext(0, 1, stats)).Count())),
            ("4 filter", Time(() => RunTasks(tasks, r => new MinHashFilterStage(folder).Run(Share(documents, r, tasks), new TaskContext(r, tasks, stats)).Count()))),
        };
        Directory.Delete(folder, recursive: true);
        int planted = Enumerable.Range(10, Math.Max(0, documents - 10)).Count(i => i % 10 < 3);
        double total = times.Sum(t => t.Seconds);
        Console.WriteLine($"minhash dedup ({tasks} tasks per stage; stages 1 and 4 include generating the documents):");
        foreach (var (stage, seconds) in times) Console.WriteLine($"  {stage,-13} {seconds,8:F2} s  {documents / seconds,12:N0} docs/s");
        Console.WriteLine($"  {"total",-13} {total,8:F2} s  {documents / total,12:N0} docs/s  = {total / baseline:F1} x the peer pass");
        long actuallyRemoved = stats.For("minhash_filter").DocumentsRemoved;
        Console.WriteLine($"  removed {actuallyRemoved:N0} of {planted:N0} planted near duplicates ({(double)actuallyRemoved / planted:P2}); pairs {stats.For("minhash_buckets").Counters.GetValueOrDefault("duplicate_pairs"):N0}");
    }

    // One thread: docs/s, MB/s (UTF-8) and managed bytes allocated per document for each per-document component.
    private static void PerCore(int documents)
    {
        var docs = Enumerable.Range(0, documents).Select(EnglishLike).ToArray();
        long bytes = docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d.Text));
        Console.WriteLine($"per core, {documents:N0} English-like documents, {bytes / (double)documents:F0} bytes each:");
        Measure("peer: UTF-8 encode", docs, bytes, d => Encoding.UTF8.GetByteCount(d.Text));
        var model = LanguageIdModel.BuiltIn;
        Measure("language id", docs, bytes, d => model.Identify(d.Text).Score > 0 ? 1 : 0);
        var hasher = new MinHasher(new MinHashConfig());
        var signature = new ulong[112];
        Measure("minhash signature", docs, bytes, d => hasher.Signature(d.Text, signature));
        var context = new TaskContext(0, 1, new PipelineStats());
        foreach (IPipelineStep filter in new IPipelineStep[] { new GopherRepetitionFilter(), new GopherQualityFilter(), new C4QualityFilter(), new FineWebQualityFilter() })
        {
            // C4 rewrites text: give each run fresh copies.
            Measure(filter.Name, docs, bytes, d => filter.Run([new Document(d.Id, d.Text)], context).Count());
        }
    }

    private static void Measure(string name, Document[] docs, long bytes, Func<Document, int> work)
    {
        foreach (var d in docs.Take(200)) work(d); // warm up (JIT tiers)
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        long sink = 0;
        foreach (var d in docs) sink += work(d);
        double seconds = clock.Elapsed.TotalSeconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Console.WriteLine($"  {name,-22} {docs.Length / seconds,12:N0} docs/s {bytes / seconds / 1e6,8:F1} MB/s {allocated / (double)docs.Length,10:F0} B/doc allocated   (check {sink})");
    }

    private static Document EnglishLike(int i)
    {
        var random = new Random(i);
        var sb = new StringBuilder();
        string[] common = ["the", "of", "and", "to", "in", "that", "with", "is", "for", "was", "on", "as", "have", "be"];
        int lines = random.Next(8, 20);
        for (int l = 0; l < lines; l++)
        {
            int words = random.Next(8, 25);
            for (int w = 0; w < words; w++)
            {
                if (w > 0) sb.Append(' ');
                string word = random.Next(3) == 0 ? common[random.Next(common.Length)] : Vocabulary[random.Next(Vocabulary.Length)];
                sb.Append(w == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word);
            }
            sb.Append(".\n");
        }
        return new Document(i.ToString(CultureInfo.InvariantCulture), sb.ToString());
    }

    private static string[] BuildVocabulary()
    {
        var random = new Random(20230828);
        const string letters = "etaoinshrdlucmfwypvbgkjqxz";
        return [.. Enumerable.Range(0, 50_000).Select(_ =>
        {
            var chars = new char[random.Next(2, 10)];
            for (int k = 0; k < chars.Length; k++) chars[k] = letters[Math.Min(letters.Length - 1, (int)(random.NextDouble() * random.NextDouble() * letters.Length))];
            return new string(chars);
        }).Distinct()];
    }

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    private static void RunTasks(int tasks, Action<int> task) =>
        Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = tasks }, task);

    private static int IntOption(string[] args, string name, int defaultValue)
    {
        int index = Array.IndexOf(args, name);
        if (index < 0) return defaultValue;
        if (index + 1 >= args.Length || !int.TryParse(args[index + 1], out int value) || value < 1)
            throw new ArgumentException($"{name}: expected a positive integer");
        return value;
    }

    private static string RuntimeInformationLine() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
}
