using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using AngleSharp.Html.Parser;
using LmForge.Data.Anonymization;
using LmForge.Data.Extraction;
using LmForge.Data.Filters;
using LmForge.Data.Pipeline;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Data.Writers;

namespace LmForge.Bench;

/// <summary>
/// Data pipeline throughput on one core: documents/s and MB/s of reading WARC, extraction, each filter and the whole
/// web recipe, on the Debian Reference pages (or --html DIR of *.html[.gz], e.g. the article-extraction-benchmark
/// pages). The peer is AngleSharp's HTML parse alone, measured in the same run: extraction / parse shows how much of
/// extraction is parsing. Allocation per document comes from GC.GetAllocatedBytesForCurrentThread.
/// Usage: LmForge.Bench data [--html DIR] [--repeat N]
/// </summary>
public static class DataBenchmark
{
    public static int Run(string[] args)
    {
        string? htmlDirectory = null;
        int repeat = 3;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--html") htmlDirectory = args[++i];
            else if (args[i] == "--repeat") repeat = int.Parse(args[++i]);
            else { Console.Error.WriteLine($"data: unknown option {args[i]}"); return 2; }
        }
        var pages = LoadPages(htmlDirectory);
        if (pages.Count == 0) { Console.Error.WriteLine("data: no pages (install debian-reference-* with tests/setup/data.sh or pass --html DIR)"); return 2; }
        long htmlBytes = pages.Sum(p => (long)p.Bytes.Length);
        Console.WriteLine($"corpus: {pages.Count} pages, {htmlBytes / 1e6:F1} MB of HTML ({htmlDirectory ?? DebianDirectory}); best of {repeat}; one thread");
        Console.WriteLine($"{"step",-22} {"docs/s",10} {"MB/s",8} {"KB alloc/doc",13}  note");

        var htmlTexts = pages.Select(p => HtmlCharset.Decode(p.Bytes, "text/html", out _)).ToList();
        var parser = new HtmlParser();
        var parse = Measure(repeat, htmlTexts.Count, htmlBytes, () => { foreach (var h in htmlTexts) parser.ParseDocument(h); });
        Print("angle_sharp_parse", parse, "peer: HTML5 parse only");
        var extractor = new HtmlTextExtractor();
        var extract = Measure(repeat, htmlTexts.Count, htmlBytes, () => { foreach (var h in htmlTexts) extractor.Extract(h); });
        Print("html_extractor", extract, $"{extract.Seconds / parse.Seconds:F2}x the parse time, {extract.AllocatedPerDocument / parse.AllocatedPerDocument:F2}x its allocation");

        var directory = Path.Combine(Path.GetTempPath(), "lmforge-data-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        try
        {
            var warcPath = Path.Combine(directory, "crawl.warc.gz");
            using (var file = File.Create(warcPath))
            using (var writer = new WarcWriter(file, gzipPerRecord: true))
            {
                foreach (var p in pages) writer.WriteResponse(p.Url, DateTimeOffset.UnixEpoch, p.Bytes, "text/html; charset=utf-8");
            }
            long warcBytes = new FileInfo(warcPath).Length;
            var read = Measure(repeat, pages.Count, htmlBytes, () => RunSteps([new WarcReader(warcPath)]));
            Print("warc_reader (gzip)", read, $"{warcBytes / 1e6:F1} MB compressed; MB/s of HTML read");

            var texts = htmlTexts.Select(h => extractor.Extract(h)).ToList();
            long textBytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
            var documents = texts.Select((t, i) => (Text: t, pages[i].Url)).ToList();
            IEnumerable<Document> Fresh() => documents.Select((d, i) => new Document(i.ToString(), d.Text) { Url = d.Url });
            var filters = new List<(string Name, Func<IPipelineStep> Make)>
            {
                ("url_filter", () => new UrlFilter(StepParameters.FromJson("url_filter", """{"banned_words": ["casino", "porn"], "soft_banned_words": ["hot", "live", "girls"], "banned_subwords": ["xxx"], "domains": ["spam.example"]}"""))),
                ("pii_anonymizer", () => new PiiAnonymizer()),
            };
            // Stages of other branches, when registered: measured the same way.
            foreach (var type in new[] { "language_filter", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality" })
            {
                if (StepRegistry.Types.Contains(type)) filters.Add((type, () => StepRegistry.Create(StepParameters.FromJson(type, "{}"))));
            }
            foreach (var (name, make) in filters)
            {
                IPipelineStep step;
                try { step = make(); }
                catch (Exception e) { Console.WriteLine($"{name,-22} skipped: {e.Message}"); continue; }
                var result = Measure(repeat, documents.Count, textBytes, () => RunSteps([step], Fresh()));
                Print(name, result, "MB/s of extracted text");
            }

            var recipe = Measure(repeat, pages.Count, htmlBytes, () =>
            {
                var output = Path.Combine(directory, "out");
                RunSteps([new WarcReader(warcPath), new HtmlExtractor(), filters[0].Make(), new PiiAnonymizer(), new JsonlWriter(output)]);
            });
            Print("web recipe (1 task)", recipe, "read+extract+url+pii+write; MB/s of HTML");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        return 0;
    }

    private const string DebianDirectory = "/usr/share/debian-reference";

    private sealed record Page(string Url, byte[] Bytes);

    private readonly record struct Result(double Seconds, int Documents, long Bytes, double AllocatedPerDocument);

    private static List<Page> LoadPages(string? directory)
    {
        var root = directory ?? DebianDirectory;
        if (!Directory.Exists(root)) return [];
        var files = Directory.GetFiles(root).Where(f => f.EndsWith(".html", StringComparison.Ordinal) || f.EndsWith(".html.gz", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        return [.. files.Select(f =>
        {
            byte[] bytes;
            if (f.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var z = new GZipStream(File.OpenRead(f), CompressionMode.Decompress);
                using var m = new MemoryStream();
                z.CopyTo(m);
                bytes = m.ToArray();
            }
            else bytes = File.ReadAllBytes(f);
            return new Page("https://bench.example/" + Path.GetFileName(f), bytes);
        })];
    }

    private static void RunSteps(IReadOnlyList<IPipelineStep> steps, IEnumerable<Document>? input = null)
    {
        var context = new TaskContext(0, 1, new PipelineStats());
        IEnumerable<Document> stream = input ?? [];
        foreach (var step in steps) stream = step.Run(stream, context);
        foreach (var _ in stream) { }
    }

    // Best of `repeat` runs after one warm-up run (JIT, tiered compilation), on this thread.
    private static Result Measure(int repeat, int documents, long bytes, Action run)
    {
        run();
        double best = double.MaxValue;
        long allocated = long.MaxValue;
        for (int r = 0; r < repeat; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return new Result(best, documents, bytes, (double)allocated / documents);
    }

    private static void Print(string name, Result r, string note) =>
        Console.WriteLine($"{name,-22} {r.Documents / r.Seconds,10:N1} {r.Bytes / r.Seconds / 1e6,8:N2} {r.AllocatedPerDocument / 1024,13:N0}  {note}");
}
