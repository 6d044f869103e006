using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LmForge.Data.Writers;

/// <summary>
/// Writes WARC/1.1 records (warcinfo, response, conversion) with WARC-Record-ID, WARC-Date, WARC-Target-URI and
/// Content-Length, each optionally as its own gzip member as Common Crawl ships .warc.gz. Record ids come from
/// <paramref name="newId"/> (seeded in tests) or random GUIDs.
/// </summary>
public sealed class WarcWriter(Stream output, bool gzipPerRecord, Func<Guid>? newId = null) : IDisposable
{
    private readonly Func<Guid> _newId = newId ?? Guid.NewGuid;

    /// <summary>Writes an HTTP 200 response record holding an HTML page with the given Content-Type header.</summary>
    public void WriteResponse(string targetUri, DateTimeOffset date, byte[] body, string contentType = "text/html; charset=utf-8", int status = 200)
    {
        var http = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n\r\n");
        WriteRecord("response", targetUri, date, "application/http; msgtype=response", [.. http, .. body]);
    }

    /// <summary>Writes a WET-style conversion record (the extracted text of a page, UTF-8).</summary>
    public void WriteConversion(string targetUri, DateTimeOffset date, string text) =>
        WriteRecord("conversion", targetUri, date, "text/plain", Encoding.UTF8.GetBytes(text));

    public Guid WriteWarcinfo(DateTimeOffset date, string fields) =>
        WriteRecord("warcinfo", null, date, "application/warc-fields", Encoding.UTF8.GetBytes(fields));

    /// <summary>
    /// Writes one record with an arbitrary content block; <paramref name="extraHeaders"/> (WARC-Warcinfo-ID,
    /// WARC-Concurrent-To, WARC-IP-Address, digests, ...) follow WARC-Target-URI. Returns the record's id.
    /// </summary>
    public Guid WriteRecord(string type, string? targetUri, DateTimeOffset date, string contentType, byte[] block,
        IEnumerable<(string Name, string Value)>? extraHeaders = null)
    {
        var id = _newId();
        var header = new StringBuilder();
        header.Append("WARC/1.1\r\n");
        header.Append("WARC-Type: ").Append(type).Append("\r\n");
        header.Append("WARC-Record-ID: <urn:uuid:").Append(id.ToString("D")).Append(">\r\n");
        header.Append("WARC-Date: ").Append(date.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append("\r\n");
        if (targetUri is not null) header.Append("WARC-Target-URI: ").Append(targetUri).Append("\r\n");
        foreach (var (name, value) in extraHeaders ?? []) header.Append(name).Append(": ").Append(value).Append("\r\n");
        header.Append("Content-Type: ").Append(contentType).Append("\r\n");
        header.Append("Content-Length: ").Append(block.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        var headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        if (gzipPerRecord)
        {
            using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
            gzip.Write(headerBytes);
            gzip.Write(block);
            gzip.Write("\r\n\r\n"u8);
        }
        else
        {
            output.Write(headerBytes);
            output.Write(block);
            output.Write("\r\n\r\n"u8);
        }
        return id;
    }

    public void Dispose() => output.Flush();
}
