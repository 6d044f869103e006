using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LmForge.Data.Extraction;

namespace LmForge.Data.Readers;

/// <summary>One record shown by `lmforge data inspect`: a title line, named fields, and the text.</summary>
public sealed record InspectedRecord(string Heading, IReadOnlyList<(string Section, IReadOnlyList<(string Name, string Value)> Fields)> Sections,
    string TextLabel, string Text);

/// <summary>
/// Reads record N (1-based) of a WARC file (its WARC headers, HTTP status and headers, the charset and how it was
/// chosen, the extracted main text) or of a JSONL(.gz) file (a document's metadata and text), so a user can look at
/// a pipeline's inputs and outputs. A record number out of range is an <see cref="InvalidOperationException"/>
/// naming the file's record count.
/// </summary>
public static class RecordInspector
{
    public static bool IsWarc(string path) => Path.GetFileName(path).Contains(".warc", StringComparison.OrdinalIgnoreCase);

    /// <summary>Record <paramref name="number"/> of the file; for a WARC without a number, its first response record.</summary>
    public static InspectedRecord Inspect(string path, int? number)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        if (number is < 1) throw new InvalidOperationException($"--record: expected a record number from 1, got {number}");
        return IsWarc(path) ? InspectWarc(path, number) : InspectJsonl(path, number ?? 1);
    }

    private static InspectedRecord InspectWarc(string path, int? number)
    {
        const long maxRecordBytes = WarcRecordFinder.MaxRecordBytes;
        var (found, foundIndex, index, counts, skips) = WarcRecordFinder.Find(path, number);
        var sections = new List<(string, IReadOnlyList<(string, string)>)>
        {
            ("WARC record", [.. found.Headers.Select(h => (h.Key, h.Value))]),
        };
        string heading = $"{path}: record {foundIndex} of {index} ({counts}), offset {found.Offset}, {found.Version}";
        if (skips.Count > 0) heading += $"; {skips.Count} skipped: {skips[0]}";
        string? error = null;
        if (found.Type == "response" && HttpResponse.Parse(found.Block, maxRecordBytes, out error, out _) is { } http)
        {
            int headerEnd = found.Block.AsSpan().IndexOf("\r\n\r\n"u8);
            var lines = Encoding.Latin1.GetString(found.Block, 0, headerEnd < 0 ? 0 : headerEnd).Split("\r\n");
            sections.Add(("HTTP response", [("Status line", lines[0]), .. lines.Skip(1).Select(l => l.IndexOf(':', StringComparison.Ordinal) is var c and > 0
                ? (l[..c].Trim(), l[(c + 1)..].Trim()) : ("", l))]));
            if (http.ContentType?.Contains("html", StringComparison.OrdinalIgnoreCase) == true)
            {
                string html = HtmlCharset.Decode(http.Body, http.ContentType, out var source, out int replaced);
                string declared = HtmlCharset.CharsetFromContentType(http.ContentType) ?? HtmlCharset.CharsetFromMeta(http.Body.AsSpan(0, Math.Min(4096, http.Body.Count))) ?? "(none)";
                string text = new HtmlTextExtractor().Extract(html);
                sections.Add(("Page", [("Body", $"{http.Body.Count:N0} bytes"), ("Charset", $"{declared} (chosen from {source.Replace('_', ' ')})"),
                    ("Valid UTF-8", HtmlCharset.IsValidUtf8(http.Body) ? "yes" : "no"), ("Invalid UTF-8 replaced", replaced.ToString("N0")),
                    ("HTML characters", html.Length.ToString("N0")), ("Main text characters", text.Length.ToString("N0"))]));
                return new InspectedRecord(heading, sections, "Extracted main text", text);
            }
            return new InspectedRecord(heading, sections, "Body", Encoding.UTF8.GetString(http.Body));
        }
        else if (found.Type == "response")
        {
            sections.Add(("HTTP response", [("Error", error ?? "unreadable")]));
        }
        return new InspectedRecord(heading, sections, "Content block", Encoding.UTF8.GetString(found.Block));
    }

    private static InspectedRecord InspectJsonl(string path, int number)
    {
        using var stream = File.OpenRead(path);
        using var input = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream;
        using var lines = new StreamReader(input, Encoding.UTF8);
        int index = 0;
        string? line, found = null;
        while ((line = lines.ReadLine()) is not null)
        {
            if (line.Trim().Length == 0) continue;
            index++;
            if (index == number) found = line;
        }
        if (found is null) throw new InvalidOperationException($"{path}: --record {number} is out of range: the file has {index} documents (1..{index})");
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(found).RootElement;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: document {number} is not JSON: {e.Message}");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: document {number} is not a JSON object");
        var fields = new List<(string, string)>();
        string text = "";
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == "text" && property.Value.ValueKind == JsonValueKind.String) text = property.Value.GetString()!;
            else if (property.Value.ValueKind == JsonValueKind.Object)
                foreach (var inner in property.Value.EnumerateObject()) fields.Add(($"{property.Name}.{inner.Name}", Show(inner.Value)));
            else fields.Add((property.Name, Show(property.Value)));
        }
        fields.Add(("text characters", text.Length.ToString("N0")));
        return new InspectedRecord($"{path}: document {number} of {index}", [("Document", fields)], "Text", text);
    }

    private static string Show(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}
