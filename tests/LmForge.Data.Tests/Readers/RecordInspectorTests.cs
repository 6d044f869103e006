using System.Text;
using LmForge.Data.Readers;
using LmForge.Data.Writers;

namespace LmForge.Data.Tests.Readers;

/// <summary>`lmforge data inspect`: one WARC record (headers, HTTP headers, charset, main text), one JSONL document.</summary>
public class RecordInspectorTests
{
    private static readonly DateTimeOffset Date = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_warc_response_shows_its_headers_charset_and_main_text()
    {
        using var dir = new TempDirectory();
        string path = dir.File("one.warc.gz");
        using (var file = File.Create(path))
        using (var writer = new WarcWriter(file, gzipPerRecord: true, StepRunner.SeededIds()))
        {
            writer.WriteWarcinfo(Date, "software: test\r\n");
            var html = "<html><head><title>t</title></head><body><nav><a href='/'>Home</a></nav><article><p>Les élèves ont lu le château, " +
                "puis ils ont écrit une longue lettre à leurs parents pour raconter la visite du musée et du jardin.</p></article></body></html>";
            writer.WriteResponse("https://example.fr/page", Date, Encoding.Latin1.GetBytes(html), "text/html; charset=ISO-8859-1");
        }
        var shown = RecordInspector.Inspect(path, null); // the first response
        Assert.StartsWith($"{path}: record 2 of 2 (1 warcinfo, 1 response)", shown.Heading, StringComparison.Ordinal);
        var fields = shown.Sections.SelectMany(s => s.Fields).GroupBy(f => f.Name).ToDictionary(g => g.Key, g => g.Last().Value); // HTTP's Content-Type after WARC's
        Assert.Equal("https://example.fr/page", fields["WARC-Target-URI"]);
        Assert.Equal("HTTP/1.1 200 OK", fields["Status line"]);
        Assert.Equal("text/html; charset=ISO-8859-1", fields["Content-Type"]);
        Assert.Equal("ISO-8859-1 (chosen from http header)", fields["Charset"]);
        Assert.Equal("no", fields["Valid UTF-8"]);
        Assert.Contains("Les élèves ont lu le château", shown.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Home", shown.Text, StringComparison.Ordinal);

        Assert.Equal("warcinfo", RecordInspector.Inspect(path, 1).Sections[0].Fields.Single(f => f.Name == "WARC-Type").Value);
        var e = Assert.Throws<InvalidOperationException>(() => RecordInspector.Inspect(path, 3));
        Assert.Equal($"{path}: --record 3 is out of range: the file has 2 records (1..2)", e.Message);
    }

    [Fact]
    public void A_jsonl_document_shows_its_metadata_and_text()
    {
        using var dir = new TempDirectory();
        string path = dir.File("docs.jsonl");
        File.WriteAllText(path, """
            {"id": "a", "text": "first", "metadata": {"language": "en"}}
            {"id": "b", "url": "https://example.org/b", "text": "second document", "metadata": {"language": "fr", "language_score": 0.91}}
            """);
        var shown = RecordInspector.Inspect(path, 2);
        Assert.Equal($"{path}: document 2 of 2", shown.Heading);
        var fields = shown.Sections.Single().Fields.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal("b", fields["id"]);
        Assert.Equal("https://example.org/b", fields["url"]);
        Assert.Equal("fr", fields["metadata.language"]);
        Assert.Equal("0.91", fields["metadata.language_score"]);
        Assert.Equal("second document", shown.Text);
        var e = Assert.Throws<InvalidOperationException>(() => RecordInspector.Inspect(path, 5));
        Assert.Equal($"{path}: --record 5 is out of range: the file has 2 documents (1..2)", e.Message);
        Assert.Throws<InvalidOperationException>(() => RecordInspector.Inspect(path, 0));
    }
}
