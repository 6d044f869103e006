using System.IO.Compression;
using System.Text;

namespace LmForge.Data.Readers;

/// <summary>The HTTP response held in a WARC response record: status, headers and the body bytes.</summary>
internal readonly record struct HttpResponse(int Status, string? ContentType, ArraySegment<byte> Body)
{
    /// <summary>
    /// Parses "HTTP/1.1 200 OK", the header lines and the body; null when the block is not an HTTP response, or
    /// (<paramref name="tooLarge"/>) when a gzip body decompresses to more than <paramref name="maxBodyBytes"/>.
    /// </summary>
    public static HttpResponse? Parse(byte[] block, long maxBodyBytes, out string? error, out bool tooLarge)
    {
        error = null;
        tooLarge = false;
        var span = block.AsSpan();
        int headerEnd = span.IndexOf("\r\n\r\n"u8);
        int bodyStart = headerEnd + 4;
        int lfEnd = span.IndexOf("\n\n"u8);
        if (lfEnd >= 0 && (headerEnd < 0 || lfEnd < headerEnd))
        {
            headerEnd = lfEnd;
            bodyStart = lfEnd + 2;
        }
        if (headerEnd < 0 || !span.StartsWith("HTTP/"u8))
        {
            error = "no HTTP status line and header block";
            return null;
        }
        var lines = Encoding.Latin1.GetString(span[..headerEnd]).Split('\n');
        var statusParts = lines[0].Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        if (statusParts.Length < 2 || !int.TryParse(statusParts[1], out int status))
        {
            error = $"bad HTTP status line '{lines[0].Trim()}'";
            return null;
        }
        string? contentType = null, contentEncoding = null, transferEncoding = null;
        foreach (var raw in lines.AsSpan(1))
        {
            int colon = raw.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) continue;
            var name = raw.AsSpan(0, colon).Trim();
            var value = raw[(colon + 1)..].Trim();
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) contentType = value;
            else if (name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)) contentEncoding = value;
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) transferEncoding = value;
        }
        var body = new ArraySegment<byte>(block, bodyStart, block.Length - bodyStart);
        if (transferEncoding is not null && transferEncoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            body = Dechunk(body) ?? body;
        if (contentEncoding is not null && contentEncoding.Contains("gzip", StringComparison.OrdinalIgnoreCase)
            && body.Count > 2 && body[0] == 0x1F && body[1] == 0x8B)
        {
            try
            {
                using var gzip = new GZipStream(new MemoryStream(body.Array!, body.Offset, body.Count), CompressionMode.Decompress);
                using var output = new MemoryStream();
                var buffer = new byte[81920];
                int read;
                while ((read = gzip.Read(buffer)) > 0)
                {
                    if (output.Length + read > maxBodyBytes)
                    {
                        error = $"gzip body decompresses to more than the cap of {maxBodyBytes} bytes";
                        tooLarge = true;
                        return null;
                    }
                    output.Write(buffer, 0, read);
                }
                body = new ArraySegment<byte>(output.GetBuffer(), 0, (int)output.Length);
            }
            catch (InvalidDataException)
            {
                error = "body declared gzip but does not decompress";
                return null;
            }
        }
        return new HttpResponse(status, contentType, body);
    }

    // Crawlers usually store bodies already de-chunked; when they did not, rebuild the body from the chunks.
    private static ArraySegment<byte>? Dechunk(ArraySegment<byte> body)
    {
        var span = body.AsSpan();
        var output = new MemoryStream(span.Length);
        int position = 0;
        while (position < span.Length)
        {
            int lineEnd = span[position..].IndexOf("\r\n"u8);
            if (lineEnd < 0) return null;
            var sizeText = Encoding.ASCII.GetString(span.Slice(position, lineEnd)).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out int size) || size < 0) return null;
            position += lineEnd + 2;
            if (size == 0) return new ArraySegment<byte>(output.GetBuffer(), 0, (int)output.Length);
            if (size > span.Length - position) return null;
            output.Write(span.Slice(position, size));
            position += size + 2;
        }
        return null;
    }
}
