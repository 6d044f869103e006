using System.Runtime.InteropServices;
using System.Text.Json;
using LmForge.Tokenization;
using LmForge.Tokenization.Corpus;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Readers;

/// <summary>
/// Reads JSON Lines files (plain or gzip): one object per line with a text field (default "text") and an id field
/// (default "id"); "url" becomes the document address and other fields its metadata. A line that is not such an
/// object is skipped, counted and logged with its line number, and so is a line longer than
/// <c>max_document_bytes</c> (counted in characters, which are never more than its UTF-8 bytes), without holding it.
/// Recipe: <c>{"type": "jsonl_reader", "path": "docs/", "glob": "*.jsonl*", "text_key": "text", "id_key": "id",
/// "max_document_bytes": 67108864}</c>.
/// </summary>
[RecipeStep("jsonl_reader")]
public sealed class JsonlReader : FileReaderStep
{
    public JsonlReader(StepParameters parameters) : base(parameters, "*.jsonl*")
    {
        TextKey = parameters.GetString("text_key", "text")!;
        IdKey = parameters.GetString("id_key", "id")!;
        MaxDocumentBytes = parameters.GetLong("max_document_bytes", DefaultMaxDocumentBytes);
        if (MaxDocumentBytes <= 0 || MaxDocumentBytes > int.MaxValue)
            throw parameters.Invalid("max_document_bytes", $"expected a positive byte count up to {int.MaxValue}, got {MaxDocumentBytes}");
    }

    public const long DefaultMaxDocumentBytes = 64 << 20;

    /// <summary>Lines with more characters are skipped as "document_too_large" (read past, never held whole).</summary>
    public long MaxDocumentBytes { get; init; } = DefaultMaxDocumentBytes;

    public JsonlReader(string inputPath, string glob = "*.jsonl*") : base(inputPath, glob) { }

    public override string Name => "jsonl_reader";

    public string TextKey { get; init; } = "text";

    public string IdKey { get; init; } = "id";

    protected override IEnumerable<Document> ReadFile(string path, StepStats stats, TaskContext context)
    {
        Stream stream;
        try
        {
            stream = InputFiles.OpenMaybeGzip(path);
        }
        catch (IOException e)
        {
            Skip(stats, context, "unreadable_file", $"{path}: {e.Message}");
            yield break;
        }
        using var reader = new StreamReader(stream);
        var lines = new BoundedLineReader(reader, (int)MaxDocumentBytes);
        long lineNumber = 0;
        while (true)
        {
            string? line;
            bool tooLong;
            try
            {
                line = lines.ReadLine(out tooLong);
            }
            catch (InvalidDataException e) when (InputFiles.IsGzipTruncation(e))
            {
                Skip(stats, context, "gzip_truncated", $"{e.Message}; {lineNumber} lines read before it are kept");
                yield break;
            }
            catch (InvalidDataException e)
            {
                Skip(stats, context, "gzip_corrupt", $"{path}: after line {lineNumber}: {e.Message}");
                yield break;
            }
            if (line is null) break;
            lineNumber++;
            if (tooLong)
            {
                Skip(stats, context, "document_too_large", $"{path}:{lineNumber}: line of more than {MaxDocumentBytes} characters exceeds the cap of {MaxDocumentBytes} bytes");
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;
            var document = Parse(line, path, lineNumber, stats, context);
            if (document is not null) yield return document;
        }
        context.Progress.AddInputBytes(new FileInfo(path).Length);
    }

    private Document? Parse(string line, string path, long lineNumber, StepStats stats, TaskContext context)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Skip(stats, context, "bad_json_line", $"{path}:{lineNumber}: expected a JSON object, got {root.ValueKind}");
                return null;
            }
            if (!root.TryGetProperty(TextKey, out var text) || text.ValueKind != JsonValueKind.String)
            {
                Skip(stats, context, "bad_json_line", $"{path}:{lineNumber}: field \"{TextKey}\" missing or not a string");
                return null;
            }
            string id = root.TryGetProperty(IdKey, out var idValue)
                ? (idValue.ValueKind == JsonValueKind.String ? StringOf(idValue) : idValue.GetRawText())
                : $"{Path.GetFileName(path)}:{lineNumber}";
            var document = new Document(id, StringOf(text));
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == TextKey || property.Name == IdKey) continue;
                if (property.Name == "url" && property.Value.ValueKind == JsonValueKind.String) document.Url = StringOf(property.Value);
                else if (property.Name == "metadata" && property.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var inner in property.Value.EnumerateObject()) document.Metadata[inner.Name] = ToValue(inner.Value);
                }
                else document.Metadata[property.Name] = ToValue(property.Value);
            }
            return document;
        }
        catch (JsonException e)
        {
            Skip(stats, context, "bad_json_line", $"{path}:{lineNumber}: {UntrustedText.JsonError(e)}");
            return null;
        }
        catch (InvalidOperationException)
        {
            // a key that is an escaped lone surrogate: the name cannot be text (values get U+FFFD in StringOf)
            Skip(stats, context, "bad_json_line", $"{path}:{lineNumber}: a key is not valid text (a lone surrogate escape)");
            return null;
        }
    }

    // GetString throws on an escaped lone surrogate ("\ud83d", which Python writes for a cut emoji); such a
    // string gets U+FFFD instead, as the tokenizer's encoder would map it anyway.
    private static string StringOf(JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            var quoted = JsonMarshal.GetRawUtf8Value(value);
            return JsonStringDecoder.DecodeReplacingLoneSurrogates(quoted[1..^1]);
        }
    }

    private static object? ToValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => StringOf(value),
        JsonValueKind.Number => value.TryGetInt64(out long l) ? (object)l : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => value.Clone(),
    };
}
