using System.Text;
using System.Text.RegularExpressions;

namespace LmForge.Data.Readers;

/// <summary>
/// Decodes an HTML body to text, choosing the charset as browsers do, in order: a byte-order mark, the HTTP
/// Content-Type charset, a &lt;meta charset&gt; or http-equiv declaration in the first 4 KB, then detection (valid
/// UTF-8 is UTF-8, anything else windows-1252). A declared UTF-8 is always decoded as UTF-8, each invalid sequence
/// becoming U+FFFD: Common Crawl cuts records over 1 MiB mid-character, and reading such a page as windows-1252 would
/// garble every non-ASCII character in it. Windows-1252 is a guess made only when nothing usable is declared.
/// </summary>
public static partial class HtmlCharset
{
    private const int PrescanBytes = 4096;

    private static readonly Encoding Windows1252 = RegisterCodePages().GetEncoding(1252)!;

    // Explicit, so that the type is not beforefieldinit: the code-page provider is registered before Decode first
    // runs. Without it the runtime may set Windows1252 only when a fallback first reads it, after a declared
    // "Shift_JIS" or "windows-1252" has already failed to resolve and been decoded as a guess.
    static HtmlCharset() { }

    /// <summary>Decodes body; <paramref name="source"/> says how the charset was chosen (for stats).</summary>
    public static string Decode(ReadOnlySpan<byte> body, string? contentTypeHeader, out string source) =>
        Decode(body, contentTypeHeader, out source, out _);

    /// <summary>
    /// Decodes body; <paramref name="source"/> says how the charset was chosen and
    /// <paramref name="utf8Replaced"/> how many invalid UTF-8 sequences of a declared UTF-8 body became U+FFFD.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> body, string? contentTypeHeader, out string source, out int utf8Replaced)
    {
        utf8Replaced = 0;
        if (body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) { source = "bom"; return Encoding.UTF8.GetString(body[3..]); }
        if (body.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE])) { source = "bom"; return Encoding.Unicode.GetString(body[2..]); }
        if (body.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF])) { source = "bom"; return Encoding.BigEndianUnicode.GetString(body[2..]); }

        var declared = CharsetFromContentType(contentTypeHeader);
        source = "http_header";
        if (declared is null)
        {
            declared = CharsetFromMeta(body[..Math.Min(body.Length, PrescanBytes)]);
            source = "meta";
        }
        if (declared is not null && TryGetEncoding(declared) is { } encoding)
        {
            if (encoding.CodePage != Encoding.UTF8.CodePage) return encoding.GetString(body);
            if (!IsValidUtf8(body)) utf8Replaced = CountInvalidUtf8Sequences(body);
            return Encoding.UTF8.GetString(body);
        }
        if (IsValidUtf8(body)) { source = "detected_utf8"; return Encoding.UTF8.GetString(body); }
        source = "detected_windows1252";
        return Windows1252.GetString(body);
    }

    // Code pages beyond UTF-8/16 and Latin-1 (windows-1252, Shift_JIS, GBK, ...) come from this provider.
    private static EncodingProvider RegisterCodePages()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        return CodePagesEncodingProvider.Instance;
    }

    public static bool IsValidUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    // Counts the sequences Encoding.UTF8 replaces with U+FFFD (both follow the Unicode "maximal subpart" rule).
    private static int CountInvalidUtf8Sequences(ReadOnlySpan<byte> bytes)
    {
        var invalid = 0;
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out _, out var consumed);
            if (status != System.Buffers.OperationStatus.Done) invalid++;
            bytes = bytes[consumed..];
        }
        return invalid;
    }

    internal static string? CharsetFromContentType(string? contentType)
    {
        if (contentType is null) return null;
        var match = CharsetParameter().Match(contentType);
        return match.Success ? match.Groups[1].Value : null;
    }

    internal static string? CharsetFromMeta(ReadOnlySpan<byte> head)
    {
        var text = Encoding.Latin1.GetString(head);
        var match = MetaCharset().Match(text);
        if (match.Success) return match.Groups[1].Value;
        match = MetaHttpEquiv().Match(text);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static Encoding? TryGetEncoding(string name)
    {
        // Browsers treat these labels as windows-1252 (the WHATWG Encoding Standard); .NET would give strict Latin-1.
        if (name.Equals("iso-8859-1", StringComparison.OrdinalIgnoreCase) || name.Equals("latin1", StringComparison.OrdinalIgnoreCase)
            || name.Equals("us-ascii", StringComparison.OrdinalIgnoreCase) || name.Equals("ascii", StringComparison.OrdinalIgnoreCase))
            return Windows1252;
        if (name.Equals("utf8", StringComparison.OrdinalIgnoreCase)) return Encoding.UTF8;
        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"charset\s*=\s*[""']?([A-Za-z0-9_\-:.]+)", RegexOptions.IgnoreCase)]
    private static partial Regex CharsetParameter();

    [GeneratedRegex(@"<meta[^>]*?\scharset\s*=\s*[""']?\s*([A-Za-z0-9_\-:.]+)", RegexOptions.IgnoreCase)]
    private static partial Regex MetaCharset();

    [GeneratedRegex(@"<meta[^>]*?http-equiv\s*=\s*[""']?content-type[^>]*?charset\s*=\s*([A-Za-z0-9_\-:.]+)", RegexOptions.IgnoreCase)]
    private static partial Regex MetaHttpEquiv();
}
