using System.Text;
using LmForge.Data.Readers;

namespace LmForge.Data.Tests.Readers;

public class HtmlCharsetTests
{
    static HtmlCharsetTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    // "café – naïve" in windows-1252: é=E9, en dash=96, ï=EF (code page table, not our code).
    private static readonly byte[] Windows1252Bytes = [0x63, 0x61, 0x66, 0xE9, 0x20, 0x96, 0x20, 0x6E, 0x61, 0xEF, 0x76, 0x65];
    private const string Expected = "caf\u00e9 \u2013 na\u00efve";

    [Fact]
    public void Http_header_charset_wins()
    {
        Assert.Equal(Expected, HtmlCharset.Decode(Windows1252Bytes, "text/html; charset=windows-1252", out var source));
        Assert.Equal("http_header", source);
    }

    [Fact]
    public void Meta_charset_and_http_equiv_are_found()
    {
        var meta = Encoding.ASCII.GetBytes("<html><head><meta charset=\"windows-1252\"></head><body>").Concat(Windows1252Bytes).ToArray();
        Assert.EndsWith(Expected, HtmlCharset.Decode(meta, "text/html", out var source), StringComparison.Ordinal);
        Assert.Equal("meta", source);
        var equiv = Encoding.ASCII.GetBytes("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">").Concat(Windows1252Bytes).ToArray();
        Assert.EndsWith(Expected, HtmlCharset.Decode(equiv, null, out _), StringComparison.Ordinal);
    }

    [Fact]
    public void Shift_jis_declared_in_meta_is_decoded()
    {
        // 日本語 in Shift_JIS: 93FA 967B 8CEA (JIS X 0208 table).
        byte[] body = [.. Encoding.ASCII.GetBytes("<meta charset=shift_jis><p>"), 0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA];
        Assert.EndsWith("\u65e5\u672c\u8a9e", HtmlCharset.Decode(body, null, out _), StringComparison.Ordinal);
    }

    [Fact]
    public void Undeclared_bytes_are_detected_as_utf8_or_windows1252()
    {
        Assert.Equal(Expected, HtmlCharset.Decode(Encoding.UTF8.GetBytes(Expected), null, out var utf8));
        Assert.Equal("detected_utf8", utf8);
        Assert.Equal(Expected, HtmlCharset.Decode(Windows1252Bytes, "text/html", out var cp1252));
        Assert.Equal("detected_windows1252", cp1252);
    }

    // "Café 日本語" in UTF-8 (C3 A9 = é, E6 97 A5 = 日, ...), cut after the first byte of 語 (E8 AA 9E), as Common
    // Crawl cuts records over 1 MiB mid-character.
    private static readonly byte[] CutUtf8 = [.. Encoding.UTF8.GetBytes("Caf\u00e9 \u65e5\u672c"), 0xE8];

    [Fact]
    public void Declared_utf8_cut_mid_character_keeps_utf8_and_replaces_only_the_cut()
    {
        Assert.Equal("Caf\u00e9 \u65e5\u672c\uFFFD", HtmlCharset.Decode(CutUtf8, "text/html; charset=UTF-8", out var source, out var replaced));
        Assert.Equal("http_header", source);
        Assert.Equal(1, replaced);

        byte[] page = [.. Encoding.ASCII.GetBytes("<meta charset=\"utf-8\"><p>"), .. CutUtf8];
        Assert.Equal("<meta charset=\"utf-8\"><p>Caf\u00e9 \u65e5\u672c\uFFFD", HtmlCharset.Decode(page, "text/html", out source, out replaced));
        Assert.Equal("meta", source);
        Assert.Equal(1, replaced);
    }

    [Fact]
    public void Declared_utf8_counts_each_invalid_sequence()
    {
        // windows-1252 bytes under a UTF-8 label: E9, 96 and EF 76 are three invalid sequences (maximal subparts).
        Assert.Equal("caf\uFFFD \uFFFD na\uFFFDve", HtmlCharset.Decode(Windows1252Bytes, "text/html; charset=utf-8", out _, out var replaced));
        Assert.Equal(3, replaced);
        HtmlCharset.Decode(Encoding.UTF8.GetBytes(Expected), "text/html; charset=utf-8", out _, out replaced);
        Assert.Equal(0, replaced);
    }

    [Fact]
    public void Undeclared_cut_utf8_is_detected_as_windows1252()
    {
        // Nothing declared and not valid UTF-8: detection guesses windows-1252, as browsers do.
        HtmlCharset.Decode(CutUtf8, null, out var source, out var replaced);
        Assert.Equal("detected_windows1252", source);
        Assert.Equal(0, replaced);
    }

    [Fact]
    public void Unknown_charset_name_falls_back_to_detection()
    {
        Assert.Equal(Expected, HtmlCharset.Decode(Encoding.UTF8.GetBytes(Expected), "text/html; charset=x-no-such-thing", out var source));
        Assert.Equal("detected_utf8", source);
    }
}
