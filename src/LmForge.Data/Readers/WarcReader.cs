using System.Text;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Readers;

/// <summary>
/// Reads web pages from WARC files: <c>response</c> records holding an HTTP 200 HTML page (the document text is the
/// decoded HTML, for an extractor to turn into text) and WET <c>conversion</c> records (already text). Other
/// records (request, metadata, warcinfo, non-HTML or non-200 responses) are skipped and counted by reason.
/// Recipe: <c>{"type": "warc_reader", "path": "crawl/", "glob": "*.warc.gz", "max_document_bytes": 4194304}</c>.
/// </summary>
[RecipeStep("warc_reader")]
public sealed class WarcReader : FileReaderStep
{
    public const long DefaultMaxDocumentBytes = 4 << 20;

    public WarcReader(StepParameters parameters) : base(parameters, "*.warc*")
    {
        MaxDocumentBytes = parameters.GetLong("max_document_bytes", DefaultMaxDocumentBytes);
        if (MaxDocumentBytes <= 0) throw parameters.Invalid("max_document_bytes", $"expected a positive byte count, got {MaxDocumentBytes}");
    }

    public WarcReader(string inputPath, string glob = "*.warc*") : base(inputPath, glob) { }

    public override string Name => "warc_reader";

    /// <summary>Records whose page (HTTP body or WET text) is larger are skipped as "document_too_large".</summary>
    public long MaxDocumentBytes { get; init; } = DefaultMaxDocumentBytes;

    protected override IEnumerable<Document> ReadFile(string path, StepStats stats, TaskContext context)
    {
        // Whole records are capped a bit above the page cap (HTTP headers come on top of the body).
        using var reader = new WarcFileReader(path, MaxDocumentBytes + (64 << 10), (reason, detail) => Skip(stats, context, reason, detail));
        long reported = 0;
        foreach (var record in reader.ReadRecords())
        {
            stats.Count("records");
            long raw = reader.RawPosition;
            context.Progress.AddInputBytes(raw - reported);
            reported = raw;
            var document = ToDocument(record, path, stats, context);
            if (document is not null) yield return document;
        }
        context.Progress.AddInputBytes(reader.RawPosition - reported);
    }

    private Document? ToDocument(WarcRecord record, string path, StepStats stats, TaskContext context)
    {
        string where = $"{path}: offset {record.Offset}";
        switch (record.Type)
        {
            case "response":
            {
                var response = HttpResponse.Parse(record.Block, MaxDocumentBytes, out var error, out bool tooLarge);
                if (response is not { } http)
                {
                    Skip(stats, context, tooLarge ? "document_too_large" : "bad_http_response", $"{where}: {error}");
                    return null;
                }
                if (http.Status != 200)
                {
                    stats.Count("skipped_http_status_not_200");
                    return null;
                }
                if (!IsHtml(http.ContentType))
                {
                    stats.Count("skipped_not_html");
                    return null;
                }
                if (http.Body.Count == 0)
                {
                    stats.Count("skipped_empty_body");
                    return null;
                }
                if (http.Body.Count > MaxDocumentBytes)
                {
                    Skip(stats, context, "document_too_large", $"{where}: body of {http.Body.Count} bytes exceeds the cap of {MaxDocumentBytes}");
                    return null;
                }
                var html = HtmlCharset.Decode(http.Body, http.ContentType, out var charsetSource, out var utf8Replaced);
                stats.Count("charset_" + charsetSource);
                if (utf8Replaced > 0)
                {
                    stats.Count("utf8_replaced_documents");
                    stats.Count("utf8_replaced_sequences", utf8Replaced);
                }
                if (LooksBinary(html))
                {
                    Skip(stats, context, "undecodable", $"{where}: body is not text in any charset tried");
                    return null;
                }
                return MakeDocument(record, path, html);
            }
            case "conversion":
            {
                if (record.Block.Length > MaxDocumentBytes)
                {
                    Skip(stats, context, "document_too_large", $"{where}: text of {record.Block.Length} bytes exceeds the cap of {MaxDocumentBytes}");
                    return null;
                }
                if (!HtmlCharset.IsValidUtf8(record.Block))
                {
                    Skip(stats, context, "undecodable", $"{where}: WET text is not valid UTF-8");
                    return null;
                }
                var text = Encoding.UTF8.GetString(record.Block).Trim();
                if (text.Length == 0)
                {
                    stats.Count("skipped_empty_body");
                    return null;
                }
                return MakeDocument(record, path, text);
            }
            default:
                stats.Count("skipped_warc_type_" + (record.Type ?? "missing").ToLowerInvariant());
                return null;
        }
    }

    private static Document MakeDocument(WarcRecord record, string path, string text)
    {
        var document = new Document(record.Id ?? $"{Path.GetFileName(path)}@{record.Offset}", text) { Url = record.TargetUri };
        if (record.Date is { } date) document.Metadata["date"] = date;
        document.Metadata["file_path"] = path;
        return document;
    }

    private static bool IsHtml(string? contentType) =>
        contentType is not null
        && (contentType.Contains("text/html", StringComparison.OrdinalIgnoreCase)
            || contentType.Contains("application/xhtml", StringComparison.OrdinalIgnoreCase));

    // Decoded binary (an image served as text/html) is full of control characters that no page has.
    private static bool LooksBinary(string text)
    {
        int sample = Math.Min(text.Length, 8192), control = 0;
        for (int i = 0; i < sample; i++)
        {
            char c = text[i];
            if (c == '\uFFFD' || (c < ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f')) control++;
        }
        return control > sample / 20;
    }
}
