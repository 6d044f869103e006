using System.Text.RegularExpressions;

namespace LmForge.Data.Extraction;

/// <summary>What marks an element as page furniture rather than content: tags, ARIA roles and class/id words.</summary>
internal static partial class BoilerplatePatterns
{
    /// <summary>Never content: removed with everything inside before scoring.</summary>
    public static readonly HashSet<string> RemovedTags = new(StringComparer.Ordinal)
    {
        "script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed", "video", "audio",
        "button", "input", "select", "textarea", "option", "nav", "footer", "aside", "menu", "dialog", "head", "link",
        "meta", "header", "map", "frame", "frameset", "applet",
    };

    public static readonly HashSet<string> RemovedRoles = new(StringComparer.OrdinalIgnoreCase)
    {
        "navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "dialog", "alertdialog", "search", "toolbar", "tablist",
    };

    /// <summary>Elements that start a new block of text (a line break before and after).</summary>
    public static readonly HashSet<string> BlockTags = new(StringComparer.Ordinal)
    {
        "p", "div", "section", "article", "main", "body", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "thead", "tbody", "tfoot", "caption", "figure",
        "figcaption", "address", "center", "hr", "details", "summary", "form", "fieldset", "legend",
    };

    /// <summary>Blocks rendered as a paragraph (a blank line around them) rather than a line.</summary>
    public static readonly HashSet<string> ParagraphTags = new(StringComparer.Ordinal)
    {
        "p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "figure", "section", "article",
    };

    /// <summary>Elements whose text is scored as a paragraph of content.</summary>
    public static readonly HashSet<string> ScoredTags = new(StringComparer.Ordinal) { "p", "pre", "td", "blockquote" };

    // Class/id words of elements that are never the article, whatever else the name says.
    [GeneratedRegex(@"comment|disqus|share|sharing|social|related|recommend|cookie|consent|gdpr|newsletter|subscri|signup|sign-up|breadcrumb|outbrain|taboola|advert|\bads?\b|\bad[-_]|[-_]ads?\b|promo|sponsor|popup|modal|paywall|skip-?link|sr-only|visually-?hidden|screen-reader|print-only|trending|most-?popular|read-?more|more-?stories|author-?bio|about-?the-?author|tooltip|popover|rollover",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    public static partial Regex StrongNegative();

    // Class/id words of furniture, unless the name also says content.
    [GeneratedRegex(@"sidebar|side-bar|footer|masthead|menu|\bnav|navbar|banner|pagination|\bpager\b|widget|toolbar|\btags?\b|tag-?list|byline|dateline|timestamp|\bmeta\b|post-?meta|entry-?meta|caption|credit|login|utility|topbar|top-bar|header|hero|teaser|extra|supplement|\brail\b|\btoc\b|table-?of-?contents",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    public static partial Regex WeakNegative();

    [GeneratedRegex(@"article|\bbody\b|content|entry|\bmain\b|\bpost\b|story|\btext\b|blog|hentry|\bpage\b|prose|markdown|rich-?text",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    public static partial Regex Positive();

    // Whole short blocks that are furniture whatever element holds them.
    [GeneratedRegex(@"^(advertisement|advertising|sponsored( content)?|share( this)?( article| story)?|read more|continue reading|related( articles| stories)?|click here.*|sign up.*|subscribe.*|follow us.*|skip to (main )?content|image|photo|loading\.*|comments?)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    public static partial Regex BoilerplateLine();
}
