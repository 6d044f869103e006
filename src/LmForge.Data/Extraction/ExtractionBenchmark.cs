using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using LmForge.Data.Readers;

namespace LmForge.Data.Extraction;

/// <summary>
/// Runs an extractor over the article-extraction-benchmark layout (ground truth JSON <c>{id: {"articleBody": ...}}</c>,
/// HTML at <c>{dir}/{id}.html.gz</c> or <c>{dir}/{id}.html</c>) and scores it with <see cref="ShingleScore"/>.
/// </summary>
public static class ExtractionBenchmark
{
    public sealed record Report(ShingleScore.Result Score, IReadOnlyDictionary<string, string> Predictions, TimeSpan ExtractionTime, long HtmlBytes);

    /// <summary>Reads a ground-truth or predictions file: <c>{id: {"articleBody": text}}</c>, optionally wrapped in {"version","output"}.</summary>
    public static Dictionary<string, string> ReadArticleBodies(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = json.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Object) root = output;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected an object mapping ids to {{\"articleBody\": ...}}");
        var bodies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in root.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: entry '{item.Name}': expected an object with \"articleBody\"");
            bodies[item.Name] = item.Value.TryGetProperty("articleBody", out var body) && body.ValueKind == JsonValueKind.String ? body.GetString()! : "";
        }
        return bodies;
    }

    public static Report Run(string htmlDirectory, string truthPath, Func<string, string> extract, IProgress<(int Done, int Total)>? progress = null)
    {
        var truth = ReadArticleBodies(truthPath);
        var pages = new List<(string Id, string Html, long Bytes)>();
        foreach (var id in truth.Keys)
        {
            var gz = Path.Combine(htmlDirectory, id + ".html.gz");
            var plain = Path.Combine(htmlDirectory, id + ".html");
            byte[] bytes;
            if (File.Exists(gz))
            {
                using var z = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress);
                using var memory = new MemoryStream();
                z.CopyTo(memory);
                bytes = memory.ToArray();
            }
            else if (File.Exists(plain)) bytes = File.ReadAllBytes(plain);
            else throw new FileNotFoundException($"{htmlDirectory}: no {id}.html.gz or {id}.html for ground-truth id {id}");
            pages.Add((id, HtmlCharset.Decode(bytes, null, out _), bytes.Length));
        }
        var predictions = new Dictionary<string, string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        foreach (var (id, html, _) in pages)
        {
            predictions[id] = extract(html);
            progress?.Report((predictions.Count, pages.Count));
        }
        clock.Stop();
        return new Report(ShingleScore.Evaluate(truth, predictions), predictions, clock.Elapsed, pages.Sum(p => p.Bytes));
    }

    /// <summary>Writes predictions in the benchmark's output format, to compare with its other extractors.</summary>
    public static void WritePredictions(string path, IReadOnlyDictionary<string, string> predictions)
    {
        var output = predictions.ToDictionary(p => p.Key, p => new Dictionary<string, string> { ["articleBody"] = p.Value });
        File.WriteAllText(path, JsonSerializer.Serialize(output, new JsonSerializerOptions { WriteIndented = true }));
    }
}
