using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LmForge.Data.Readers;

namespace LmForge.Data.Extraction;

/// <summary>What `lmforge data extract` prints for one page: its main text, and with an explanation what the extractor decided and why.</summary>
public static class ExtractionReport
{
    /// <summary>The text alone, or (with an explanation) a heading, the text, then the decisions.</summary>
    public static string Text(string source, HtmlPage page, string text, ExtractionExplanation? explanation)
    {
        if (explanation is null) return text.Length == 0 ? "" : text + "\n";
        var report = new StringBuilder();
        report.Append($"{source}{(page.Url is null ? "" : $" ({page.Url})")}: charset {page.Charset}, {page.Html.Length:N0} characters of HTML, {text.Length:N0} of main text\n\n");
        report.Append(text.Length == 0 ? "(no main text)" : text).Append("\n\n");
        foreach (var note in explanation.Notes) report.Append("note: ").Append(note).Append('\n');
        Section(report, "removed before scoring", explanation.Removed);
        Section(report, "chosen as content", explanation.Chosen);
        Section(report, "dropped inside the chosen blocks", explanation.Dropped);
        return report.ToString();
    }

    private static void Section(StringBuilder report, string title, List<ExplainedElement> elements)
    {
        report.Append($"{title} ({elements.Count}):\n");
        foreach (var e in elements) report.Append($"  {e.Element} {e.Characters:N0} chars \"{e.Preview}\": {e.Rule}\n");
    }

    /// <summary>One JSON object: source, url, charset, characters, text, and with an explanation its notes, removed, chosen and dropped elements.</summary>
    public static void WriteJson(Stream output, string source, HtmlPage page, string text, ExtractionExplanation? explanation)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("source", source);
        if (page.Url is null) json.WriteNull("url"); else json.WriteString("url", page.Url);
        json.WriteString("charset", page.Charset);
        json.WriteNumber("characters", text.Length);
        json.WriteString("text", text);
        if (explanation is not null)
        {
            json.WriteStartObject("explanation");
            json.WriteStartArray("notes");
            foreach (var note in explanation.Notes) json.WriteStringValue(note);
            json.WriteEndArray();
            Elements(json, "removed", explanation.Removed);
            Elements(json, "chosen", explanation.Chosen);
            Elements(json, "dropped", explanation.Dropped);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.Flush();
        output.Write("\n"u8);
    }

    private static void Elements(Utf8JsonWriter json, string name, List<ExplainedElement> elements)
    {
        json.WriteStartArray(name);
        foreach (var e in elements)
        {
            json.WriteStartObject();
            json.WriteString("element", e.Element);
            json.WriteNumber("characters", e.Characters);
            json.WriteString("preview", e.Preview);
            json.WriteString("rule", e.Rule);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
