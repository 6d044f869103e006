using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace LmForge.Data.Extraction;

/// <summary>
/// Extracts the main text of a web page: the article or body text with paragraph breaks, without navigation,
/// headers, footers, menus, cookie banners, forms, scripts or link lists. The page is parsed by AngleSharp (an
/// HTML5 parser, so broken markup is repaired as browsers do); the choice of content is ours:
/// <list type="number">
/// <item>remove elements that are never content (script, nav, footer, aside, forms' controls, ARIA navigation and
/// banner roles, hidden elements) and those whose class or id names furniture (comments, share, related, cookie...),
/// unless they hold most of the page's text;</item>
/// <item>score each paragraph (1 + commas + one point per 100 characters, at most 3) into its parent, grandparent
/// and great-grandparent, weighted by the container's tag and class, and scaled by 1 − link density;</item>
/// <item>take the best container plus the siblings that score close to it or read like prose;</item>
/// <item>render it to text, dropping link-dense lists and tables and one-line furniture ("Advertisement").</item>
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
    public string Extract(string html)
    {
        if (html.Length > MaxHtmlLength)
            throw new UnextractablePageException($"the page has {html.Length:N0} characters of HTML, more than the limit of {MaxHtmlLength:N0}");
        var document = _parser.ParseDocument(html);
        var body = document.Body;
        if (body is null) return "";
        var measure = _measure;
        measure.Clear();
        measure.Measure(body);
        RemoveFurniture(body, measure, measure.Get(body).TextLength);
        var content = ContentScorer.SelectContent(body, measure);
        var text = TextRenderer.Render(content, measure);
        measure.Clear(); // do not keep the page's tree alive until the next call
        return text;
    }

    private static void RemoveFurniture(IElement root, PageMeasure measure, int pageText)
    {
        var doomed = new List<IElement>();
        Collect(root, doomed, measure, pageText);
        foreach (var element in doomed)
        {
            measure.Subtract(element);
            element.Remove();
        }
    }

    private static void Collect(IElement element, List<IElement> doomed, PageMeasure measure, int pageText)
    {
        foreach (var child in element.Children)
        {
            if (IsFurniture(child, measure, pageText)) doomed.Add(child);
            else Collect(child, doomed, measure, pageText);
        }
    }

    private static bool IsFurniture(IElement element, PageMeasure measure, int pageText)
    {
        var tag = element.LocalName;
        if (BoilerplatePatterns.RemovedTags.Contains(tag))
        {
            // A page that wraps its article in <header> or <aside> still has its text counted: keep big ones.
            return !(tag is "header" or "aside" or "nav" or "footer") || measure.Get(element).TextLength < pageText / 2 || pageText == 0;
        }
        if (element.HasAttribute("hidden") || element.GetAttribute("aria-hidden") == "true") return true;
        if (element.GetAttribute("role") is { } role && BoilerplatePatterns.RemovedRoles.Contains(role)) return true;
        if (element.GetAttribute("style") is { } style && IsHiddenStyle(style)) return true;
        if (tag is "article" or "main" or "body" or "html" || element.GetAttribute("itemprop") == "articleBody") return false;

        var names = measure.Names(element);
        if (names == NameFlags.None) return false;
        var info = measure.Get(element);
        // Names lie (an "adrail" grid or an "advertisement-pusher" wrapper holding the story): a furniture name
        // removes an element only when it holds no run of prose, or is mostly links, and not most of the page.
        if (info.TextLength >= pageText * 0.7) return false;
        bool furniture = (names & NameFlags.StrongNegative) != 0
            || ((names & NameFlags.WeakNegative) != 0 && (names & NameFlags.Positive) == 0);
        return furniture && (info.ProseParagraphs < 2 || info.LinkDensity > 0.5);
    }

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
