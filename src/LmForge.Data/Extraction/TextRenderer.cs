using System.Text;
using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>
/// Turns the chosen content elements into text: whitespace collapsed inside blocks, a line break between blocks
/// and a blank line between paragraphs, pre-formatted text kept as is; link-dense lists and tables and one-line
/// furniture inside the content are left out.
/// </summary>
internal sealed class TextRenderer
{
    private readonly StringBuilder _text = new();
    private readonly PageMeasure _measure;
    private readonly ExtractionExplanation? _explanation;
    private int _pendingBreaks;
    private bool _pendingSpace;

    private TextRenderer(PageMeasure measure, ExtractionExplanation? explanation)
    {
        _measure = measure;
        _explanation = explanation;
    }

    public static string Render(IReadOnlyList<IElement> content, PageMeasure measure, ExtractionExplanation? explanation = null)
    {
        var renderer = new TextRenderer(measure, explanation);
        foreach (var element in content)
        {
            // The chosen containers themselves are content by choice; only what they hold is judged.
            if (renderer._measure.Get(element).TextLength == 0) continue;
            renderer.Block(element, 2);
        }
        return renderer._text.ToString();
    }

    private void Block(IElement element, int breaks)
    {
        _pendingBreaks = Math.Max(_pendingBreaks, breaks);
        Children(element, element.LocalName == "pre");
        _pendingBreaks = Math.Max(_pendingBreaks, breaks);
    }

    private void Children(IElement element, bool preformatted)
    {
        for (var node = element.FirstChild; node is not null; node = node.NextSibling)
        {
            if (node is IElement child)
            {
                var tag = child.LocalName;
                if (tag == "br") { _pendingBreaks = Math.Max(_pendingBreaks, 1); continue; }
                if (ClutterRule(child) is { } rule)
                {
                    if (_explanation is not null && _measure.Get(child).TextLength > 0)
                        _explanation.Dropped.Add(ExtractionExplanation.Describe(child, _measure.Get(child).TextLength, rule));
                    continue;
                }
                if (BoilerplatePatterns.BlockTags.Contains(tag))
                {
                    if (tag == "pre") Block(child, 2);
                    else if (BoilerplatePatterns.ParagraphTags.Contains(tag)) { _pendingBreaks = Math.Max(_pendingBreaks, 2); Children(child, preformatted); _pendingBreaks = Math.Max(_pendingBreaks, 2); }
                    else { _pendingBreaks = Math.Max(_pendingBreaks, 1); Children(child, preformatted); _pendingBreaks = Math.Max(_pendingBreaks, 1); }
                }
                else if (tag is "td" or "th") { _pendingSpace = true; Children(child, preformatted); _pendingSpace = true; }
                else Children(child, preformatted || tag == "pre");
            }
            else if (node.NodeType == NodeType.Text)
            {
                Append(node.TextContent, preformatted);
            }
        }
    }

    private void Append(string text, bool preformatted)
    {
        foreach (char c in text)
        {
            if (preformatted && c == '\n') { _pendingBreaks = Math.Max(_pendingBreaks, 1); continue; }
            if (char.IsWhiteSpace(c)) { _pendingSpace = true; continue; }
            if (_text.Length > 0)
            {
                if (_pendingBreaks > 0) _text.Append('\n', _pendingBreaks);
                else if (_pendingSpace) _text.Append(' ');
            }
            _pendingBreaks = 0;
            _pendingSpace = false;
            _text.Append(c);
        }
    }

    // Why element is left out of the text, or null when it is kept.
    private string? ClutterRule(IElement element)
    {
        var tag = element.LocalName;
        var info = _measure.Get(element);
        if (info.TextLength == 0) return tag is not ("br" or "img") ? "empty" : null;
        if (tag is "h1") return "the page title (h1)";
        if (tag is "figcaption" or "figure" && info.TextLength < 300) return "short figure or caption";
        if (tag is "ul" or "ol" or "table" or "dl" or "div" or "section" or "form" or "fieldset" or "p" or "li" or "h2" or "h3" or "h4" or "h5" or "h6")
        {
            double density = info.LinkDensity;
            // A link-dense container that still holds prose is entered, and its link lists dropped one by one.
            bool prose = tag is "div" or "section" && info.ProseParagraphs > 0;
            // Data tables link each row's name (package lists, stock tables) and are content up to more links.
            if (density > 0.5 && !prose && tag is "div" or "section" && element.QuerySelector("table") is not null) return null;
            double limit = tag == "table" ? 0.9 : 0.5;
            if (density > limit && !prose && !(tag is "p" && info.TextLength > 200)) return "mostly links";
            if (density > 0.3 && tag is "ul" or "ol" or "dl" && info.TextLength < 400) return "short link list";
        }
        if (info.TextLength < 40)
        {
            // the element's text as TextContent gives it, without building that string (an element's TextContent takes a
            // pooled builder under a lock: it was 15 % of extraction when asked of every short element)
            Span<char> text = stackalloc char[256];
            int length = 0;
            var line = RawText(element, text, ref length) ? text[..length] : element.TextContent.AsSpan();
            if (BoilerplatePatterns.BoilerplateLine().IsMatch(line.Trim())) return "boilerplate line";
        }
        if (info.TextLength <= BoilerplatePatterns.FurnitureLineMaxLength && tag is "p" or "div" or "li" or "h2" or "h3" or "h4" or "h5" or "h6" or "small"
            && !ContentScorer.HasBlockChild(element))
        {
            Span<char> opening = stackalloc char[48];
            int length = 0;
            bool space = false;
            Opening(element, opening, ref length, ref space);
            if (BoilerplatePatterns.IsFurnitureLine(opening[..length])) return "credit, cross-link or call-to-action line";
        }
        return null;
    }

    // The text under node, as its TextContent, into text; false when it does not fit.
    private static bool RawText(INode node, Span<char> text, ref int length)
    {
        for (var child = node.FirstChild; child is not null; child = child.NextSibling)
        {
            if (child is IElement)
            {
                if (!RawText(child, text, ref length)) return false;
            }
            else if (child.NodeType == NodeType.Text)
            {
                string data = child.TextContent;
                if (data.Length > text.Length - length) return false;
                data.AsSpan().CopyTo(text[length..]);
                length += data.Length;
            }
        }
        return true;
    }

    // The first characters of the text under node, whitespace collapsed to single spaces, into opening.
    private static void Opening(INode node, Span<char> opening, ref int length, ref bool space)
    {
        for (var child = node.FirstChild; child is not null && length < opening.Length; child = child.NextSibling)
        {
            if (child is IElement) Opening(child, opening, ref length, ref space);
            else if (child.NodeType == NodeType.Text)
            {
                foreach (char c in child.TextContent)
                {
                    if (char.IsWhiteSpace(c)) { space = length > 0; continue; }
                    if (space) { if (length == opening.Length) return; opening[length++] = ' '; space = false; }
                    if (length == opening.Length) return;
                    opening[length++] = c;
                }
            }
        }
    }
}
