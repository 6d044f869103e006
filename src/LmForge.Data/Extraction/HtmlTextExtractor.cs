using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace LmForge.Data.Extraction;

/// <summary>
/// Extracts the main text of a web page: the article or body text with paragraph breaks, without navigation,
/// headers, footers, menus, cookie banners, forms, scripts or link lists. The page is parsed by AngleSharp (an
/// HTML5 parser, so broken markup is repaired as browsers do); the choice of content is ours:
/// <list type="number">
/// <item>remove elements that are never content (script, nav, footer, aside, forms' controls, ARIA navigation and
/// banner roles, tab bars without prose, hidden elements) and those whose class or id names furniture (comments,
/// share, related, cookie...), unless they hold most of the page's text (a header or aside: or most of its prose);
/// a noscript that holds the page's only copy of its text is content (<see cref="NoscriptCopy"/>);</item>
/// <item>score each paragraph (1 + commas + one point per 100 characters, at most 3) into its parent, grandparent
/// and great-grandparent, weighted by the container's tag and class, and scaled by 1 − link density;</item>
/// <item>take the best container (the whole post when it is one of a thread's posts built alike) plus the siblings
/// that score close to it, read like prose or are built like it, and the subheadings between them;</item>
/// <item>render it to text, dropping link-dense lists and tables, one-line furniture ("Advertisement") and short
/// credit, source, cross-link and call-to-action lines in several languages ("Quelle: dpa", "Lire aussi :").</item>
/// </list>
/// Not thread-safe (one parser per instance); use one extractor per task.
/// </summary>
public sealed class HtmlTextExtractor
{
    /// <summary>The default of <see cref="MaxHtmlLength"/>: 16 M characters, far above real articles.</summary>
    public const int DefaultMaxHtmlLength = 16 << 20;

    private readonly HtmlParser _parser = new(new HtmlParserOptions { IsScripting = false, IsKeepingSourceReferences = false });
    private readonly PageMeasure _measure = new();

    /// <summary>Longer pages are refused: parsing one costs memory in proportion (about 100 bytes per character).</summary>
    public int MaxHtmlLength { get; init; } = DefaultMaxHtmlLength;

    /// <summary>Returns the main text, or "" when the page has none; a page longer than <see cref="MaxHtmlLength"/> is an
    /// <see cref="UnextractablePageException"/>.</summary>
    public string Extract(string html) => Extract(html, null);

    /// <summary>As <see cref="Extract(string)"/>, and records in <paramref name="explanation"/> what was removed, chosen and dropped, and why.</summary>
    public string Extract(string html, ExtractionExplanation? explanation)
    {
        if (html.Length > MaxHtmlLength)
            throw new UnextractablePageException($"the page has {html.Length:N0} characters of HTML, more than the limit of {MaxHtmlLength:N0}");
        var document = _parser.ParseDocument(html);
        var body = document.Body;
        if (body is null) return "";
        var measure = _measure;
        measure.Clear();
        measure.Measure(body);
        if (measure.ProseNoscripts.Count > 0 && NoscriptCopy.UnwrapOnlyCopies(body, measure.ProseNoscripts))
        {
            explanation?.Notes.Add("a <noscript> holds the page's only copy of its text: used as content");
            measure.Clear();
            measure.Measure(body);
        }
        RemoveFurniture(body, measure, explanation);
        var content = ContentScorer.SelectContent(body, measure, explanation);
        var text = TextRenderer.Render(content, measure, explanation);
        measure.Clear(); // do not keep the page's tree alive until the next call
        return text;
    }

    private static void RemoveFurniture(IElement root, PageMeasure measure, ExtractionExplanation? explanation)
    {
        var page = measure.Get(root);
        var doomed = new List<(IElement Element, string Rule)>();
        Collect(root, doomed, measure, page);
        foreach (var (element, rule) in doomed)
        {
            explanation?.Removed.Add(ExtractionExplanation.Describe(element, measure.Get(element).TextLength, rule));
            measure.Subtract(element);
            element.Remove();
        }
    }

    private static void Collect(IElement element, List<(IElement, string)> doomed, PageMeasure measure, PageMeasure.Info page)
    {
        foreach (var child in element.Children)
        {
            if (FurnitureRule(child, measure, page) is { } rule) doomed.Add((child, rule));
            else Collect(child, doomed, measure, page);
        }
    }

    // Why element is furniture, or null when it is not.
    private static string? FurnitureRule(IElement element, PageMeasure measure, PageMeasure.Info page)
    {
        var tag = element.LocalName;
        if (BoilerplatePatterns.RemovedTags.Contains(tag))
        {
            // A page that wraps its article in <header> or <aside> still has its text counted: keep one that holds
            // most of the page's text or most of its prose (the rest may be long link lists).
            if (tag is not ("header" or "aside" or "nav" or "footer")) return "never-content tag";
            var box = measure.Get(element);
            return HoldsMostText(box, page) || (box.ProseParagraphs >= 2 && box.ProseParagraphs * 2 > page.ProseParagraphs) ? null : "page-furniture tag, holding neither most text nor most prose";
        }
        if (element.HasAttribute("hidden") || element.GetAttribute("aria-hidden") == "true") return "hidden";
        if (element.GetAttribute("role") is { } role)
        {
            if (BoilerplatePatterns.RemovedRoles.Contains(role)) return "furniture role";
            // A tab bar or toolbar holds short labels; one that holds prose is an accordion or a panel, mislabelled.
            if (BoilerplatePatterns.ControlRoles.Contains(role) && measure.Get(element).ProseParagraphs == 0) return "control role without prose";
        }
        if (element.GetAttribute("style") is { } style && IsHiddenStyle(style)) return "hidden by style";
        if (tag is "article" or "main" or "body" or "html" || element.GetAttribute("itemprop") == "articleBody") return null;

        var names = measure.Names(element);
        if (names == NameFlags.None) return null;
        var info = measure.Get(element);
        // Names lie (an "adrail" grid, an "advertisement-pusher" or "teaser" wrapper holding the story with its share
        // buttons): a furniture name removes an element only when it holds no run of prose, or is mostly links, and
        // not most of the page.
        if (HoldsMostText(info, page)) return null;
        bool furniture = (names & NameFlags.StrongNegative) != 0
            || ((names & NameFlags.WeakNegative) != 0 && (names & NameFlags.Positive) == 0);
        return furniture && (info.ProseParagraphs < 2 || info.LinkDensity > 0.5) ? "furniture class/id without prose, or mostly links" : null;
    }

    private static bool HoldsMostText(PageMeasure.Info element, PageMeasure.Info page) => element.TextLength * 2 >= page.TextLength && page.TextLength > 0;

    internal static string ClassAndId(IElement element)
    {
        var cls = element.GetAttribute("class");
        var id = element.Id;
        if (string.IsNullOrEmpty(cls)) return id ?? "";
        return string.IsNullOrEmpty(id) ? cls : cls + " " + id;
    }

    private static bool IsHiddenStyle(string style)
    {
        var s = style.AsSpan();
        return s.Contains("display:none", StringComparison.OrdinalIgnoreCase) || s.Contains("display: none", StringComparison.OrdinalIgnoreCase)
            || s.Contains("visibility:hidden", StringComparison.OrdinalIgnoreCase) || s.Contains("visibility: hidden", StringComparison.OrdinalIgnoreCase);
    }
}
