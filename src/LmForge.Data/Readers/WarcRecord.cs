namespace LmForge.Data.Readers;

/// <summary>One WARC record: its named header fields and its content block (the bytes Content-Length counts).</summary>
public sealed class WarcRecord
{
    public WarcRecord(string version, Dictionary<string, string> headers, byte[] block, long offset)
    {
        Version = version;
        Headers = headers;
        Block = block;
        Offset = offset;
    }

    /// <summary>"WARC/1.0" or "WARC/1.1".</summary>
    public string Version { get; }

    /// <summary>Header fields by name, case-insensitive (WARC-Type, WARC-Target-URI, Content-Type, ...).</summary>
    public Dictionary<string, string> Headers { get; }

    public byte[] Block { get; }

    /// <summary>Offset of the record in the (decompressed) stream: where a log line points a user.</summary>
    public long Offset { get; }

    public string? Type => Headers.GetValueOrDefault("WARC-Type");

    /// <summary>WARC-Record-ID without the angle brackets and urn:uuid: prefix.</summary>
    public string? Id => Headers.TryGetValue("WARC-Record-ID", out var id) ? TrimId(id) : null;

    /// <summary>WARC-Target-URI; WARC/1.0 writers sometimes wrap it in angle brackets, which are removed.</summary>
    public string? TargetUri => Headers.TryGetValue("WARC-Target-URI", out var uri) ? uri.Trim().TrimStart('<').TrimEnd('>') : null;

    public string? Date => Headers.GetValueOrDefault("WARC-Date");

    private static string TrimId(string id)
    {
        var s = id.Trim().TrimStart('<').TrimEnd('>');
        return s.StartsWith("urn:uuid:", StringComparison.OrdinalIgnoreCase) ? s["urn:uuid:".Length..] : s;
    }
}
