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
        "navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "dialog", "alertdialog", "search",
    };

    /// <summary>Roles of widgets made of short controls: removed unless they hold prose (then they are mislabelled).</summary>
    public static readonly HashSet<string> ControlRoles = new(StringComparer.OrdinalIgnoreCase) { "tablist", "toolbar" };

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

    /// <summary>
    /// How short lines inside an article start when they are not the article: credits and sources, cross-links to
    /// other pages, calls to follow or subscribe; in the languages of the crawl. One list: add a language here.
    /// Matched case-insensitively at the start of a short block (<see cref="FurnitureLineMaxLength"/>), each entry
    /// followed by the end, a colon, a space or a dash.
    /// </summary>
    public static readonly string[] FurnitureLineStarts =
    [
        // credits and sources (with a colon: "Quelle: dpa", "Source : AFP", "Foto: Getty Images")
        "quelle:", "quellen:", "bildquelle:", "foto:", "fotos:", "bild:", "bilder:", "mit material von", "source:", "sources:",
        "photo:", "photos:", "image:", "credit:", "credits:", "photo credit:", "crédit:", "crédits:", "crédit photo:",
        "fuente:", "fuentes:", "crédito:", "créditos:", "fonte:", "fonti:", "foto di", "bron:", "źródło:",
        // cross-links ("Auch interessant: ...", "Lire aussi : ...")
        "auch interessant", "lesen sie auch", "lesen sie mehr", "zum weiterlesen", "weiterlesen", "mehr zum thema", "das könnte sie auch interessieren",
        "read also", "also read", "read more:", "related:", "you may also like", "lire aussi", "à lire aussi", "a lire aussi", "voir aussi",
        "lee también", "lea también", "te puede interesar", "también te puede interesar", "leer más", "leggi anche", "potrebbe interessarti",
        "leia também", "leia mais", "veja também", "lees ook",
        // calls to action ("Síguenos en Twitter", "Folgen Sie uns auf ...")
        "síguenos", "folgen sie uns", "folge uns", "suivez-nous", "seguici", "siga-nos", "follow us", "volg ons", "abonnieren sie",
        "jetzt abonnieren", "newsletter abonnieren", "abonnez-vous", "inscrivez-vous", "suscríbete", "iscriviti", "assine",
    ];

    /// <summary>The longest block (non-space characters) that a <see cref="FurnitureLineStarts"/> match removes.</summary>
    public const int FurnitureLineMaxLength = 160;

    private static readonly Regex FurnitureLineStart = new(
        "^(?:" + string.Join("|", FurnitureLineStarts.Select(s => Regex.Escape(s).Replace(":", @"\s*:", StringComparison.Ordinal))) + @")(?:$|(?<=:)|[\s:\-–—])",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    /// <summary>Whether a short block's opening text (whitespace collapsed) is a credit, a cross-link or a call to action.</summary>
    public static bool IsFurnitureLine(ReadOnlySpan<char> opening) => FurnitureLineStart.IsMatch(opening);

    // Whole short blocks that are furniture whatever element holds them.
    [GeneratedRegex(@"^(advertisement|advertising|sponsored( content)?|share( this)?( article| story)?|read more|continue reading|related( articles| stories)?|click here.*|sign up.*|subscribe.*|follow us.*|skip to (main )?content|image|photo|loading\.*|comments?)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    public static partial Regex BoilerplateLine();
}
