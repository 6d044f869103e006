using System.Text;
using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>One element the extractor decided about: its start tag, its characters (non-space), the opening of its text and why.</summary>
public sealed record ExplainedElement(string Element, int Characters, string Preview, string Rule);

/// <summary>
/// What <see cref="HtmlTextExtractor.Extract(string, ExtractionExplanation?)"/> decided for one page, in order: the
/// elements removed before scoring and by which rule, the blocks chosen as content and why, and what was dropped
/// inside them while rendering. Collected only when asked for (`lmforge data extract --explain`).
/// </summary>
public sealed class ExtractionExplanation
{
    private const int PreviewLength = 60;

    public List<string> Notes { get; } = [];
    public List<ExplainedElement> Removed { get; } = [];
    public List<ExplainedElement> Chosen { get; } = [];
    public List<ExplainedElement> Dropped { get; } = [];

    internal static ExplainedElement Describe(IElement element, int characters, string rule) => new(StartTag(element), characters, Preview(element), rule);

    internal static string StartTag(IElement element)
    {
        var tag = new StringBuilder("<").Append(element.LocalName);
        foreach (var name in (ReadOnlySpan<string>)["id", "class", "role"])
        {
            if (element.GetAttribute(name) is { Length: > 0 } value)
                tag.Append(' ').Append(name).Append("=\"").Append(value.Length > 60 ? value[..60] + "..." : value).Append('"');
        }
        return tag.Append('>').ToString();
    }

    private static string Preview(IElement element)
    {
        var text = new StringBuilder();
        bool space = false;
        foreach (char c in element.TextContent)
        {
            if (char.IsWhiteSpace(c)) { space = text.Length > 0; continue; }
            if (space) text.Append(' ');
            space = false;
            text.Append(c);
            if (text.Length >= PreviewLength) return text.Append("...").ToString();
        }
        return text.ToString();
    }
}
