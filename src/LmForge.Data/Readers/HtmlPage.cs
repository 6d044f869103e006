namespace LmForge.Data.Readers;

/// <summary>
/// One web page's HTML, decoded as the pipeline decodes it (<see cref="HtmlCharset"/>: the HTTP header's charset,
/// else the page's meta tag, else UTF-8 when valid, else windows-1252), from a file or from a WARC response record.
/// </summary>
/// <param name="Charset">The charset used and how it was chosen, e.g. "utf-8 (chosen from meta)".</param>
public sealed record HtmlPage(string Html, string? Url, string Charset)
{
    /// <summary>A saved page; <paramref name="url"/> is only recorded.</summary>
    public static HtmlPage FromFile(string path, string? url = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        var bytes = File.ReadAllBytes(path);
        string html = HtmlCharset.Decode(bytes, null, out var source);
        return new HtmlPage(html, url, Describe(null, bytes, source));
    }

    /// <summary>Record <paramref name="number"/> of a WARC file (default: its first response), which must be an HTML response.</summary>
    public static HtmlPage FromWarc(string path, int? number, string? url = null)
    {
        var found = WarcRecordFinder.Find(path, number).Record;
        string where = $"{path}: record {number?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(first response)"}";
        if (found.Type != "response") throw new InvalidDataException($"{where} is a {found.Type ?? "typeless"} record, not a response");
        var http = HttpResponse.Parse(found.Block, WarcRecordFinder.MaxRecordBytes, out var error, out _)
            ?? throw new InvalidDataException($"{where}: unreadable HTTP response: {error}");
        if (http.ContentType?.Contains("html", StringComparison.OrdinalIgnoreCase) != true)
            throw new InvalidDataException($"{where}: Content-Type is {http.ContentType ?? "missing"}, not HTML");
        string html = HtmlCharset.Decode(http.Body, http.ContentType, out var source);
        return new HtmlPage(html, url ?? found.TargetUri, Describe(http.ContentType, http.Body, source));
    }

    private static string Describe(string? contentType, ReadOnlySpan<byte> body, string source)
    {
        string declared = HtmlCharset.CharsetFromContentType(contentType) ?? HtmlCharset.CharsetFromMeta(body[..Math.Min(4096, body.Length)]) ?? "none declared";
        return $"{declared} (chosen from {source.Replace('_', ' ')})";
    }
}
