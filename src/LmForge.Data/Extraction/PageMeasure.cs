using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>What an element's class and id say it is.</summary>
[Flags]
internal enum NameFlags
{
    None = 0,
    StrongNegative = 1,
    WeakNegative = 2,
    Positive = 4,
}

/// <summary>
/// Text length and linked-text length of every element, measured once per page bottom-up, and the verdicts of the
/// class/id patterns, cached per distinct name across pages (sites repeat their class names on every element).
/// </summary>
internal sealed class PageMeasure
{
    private const int MaxCachedNames = 50_000;
    private readonly Dictionary<string, NameFlags> _names = new(StringComparer.Ordinal);

    internal sealed class Info
    {
        public int TextLength;
        public int LinkLength;
        /// <summary>Paragraphs of prose below (leaf blocks of 80+ characters, mostly not links): content, not furniture.</summary>
        public int ProseParagraphs;
        public double Score;
        public bool IsCandidate;

        public double LinkDensity => TextLength == 0 ? 0 : (double)LinkLength / TextLength;
    }

    private readonly Dictionary<IElement, Info> _info = new(ReferenceEqualityComparer.Instance);
    private static readonly Info Empty = new();

    public Info Get(IElement element) => _info.TryGetValue(element, out var info) ? info : Empty;

    public IEnumerable<(IElement Element, Info Info)> Candidates => _info.Where(p => p.Value.IsCandidate).Select(p => (p.Key, p.Value));

    /// <summary>The page's &lt;noscript&gt; elements that hold prose (measured, but not counted in their ancestors).</summary>
    public List<IElement> ProseNoscripts { get; } = [];

    public void Clear()
    {
        _info.Clear();
        ProseNoscripts.Clear();
        if (_names.Count > MaxCachedNames) _names.Clear();
    }

    public NameFlags Names(IElement element) => Lookup(element.GetAttribute("class")) | Lookup(element.Id);

    private NameFlags Lookup(string? name)
    {
        if (string.IsNullOrEmpty(name)) return NameFlags.None;
        if (_names.TryGetValue(name, out var flags)) return flags;
        if (BoilerplatePatterns.StrongNegative().IsMatch(name)) flags |= NameFlags.StrongNegative;
        if (BoilerplatePatterns.WeakNegative().IsMatch(name)) flags |= NameFlags.WeakNegative;
        if (BoilerplatePatterns.Positive().IsMatch(name)) flags |= NameFlags.Positive;
        _names[name] = flags;
        return flags;
    }

    /// <summary>Takes an element about to be removed out of its ancestors' counts (cheaper than measuring again).</summary>
    public void Subtract(IElement element)
    {
        var removed = Get(element);
        for (var ancestor = element.ParentElement; ancestor is not null; ancestor = ancestor.ParentElement)
        {
            if (!_info.TryGetValue(ancestor, out var info)) continue;
            info.TextLength -= removed.TextLength;
            info.LinkLength -= removed.LinkLength;
            info.ProseParagraphs -= removed.ProseParagraphs;
        }
    }

    /// <summary>Counts non-space characters under element (and under its links); returns the element's info.</summary>
    public Info Measure(IElement element, bool insideLink = false)
    {
        var info = new Info();
        // Only anchors with an href are links: XHTML's self-closed <a id="x"/> parses as an open anchor around
        // everything after it, which must not count as link text.
        bool isLink = insideLink || (element.LocalName == "a" && element.HasAttribute("href"));
        for (var node = element.FirstChild; node is not null; node = node.NextSibling)
        {
            if (node is IElement child)
            {
                if (child.LocalName is "script" or "style" or "template") continue;
                if (child.LocalName == "noscript")
                {
                    // Parsed without scripting, a noscript's markup is elements: measured to find a page's only copy
                    // of its article (NoscriptCopy), kept out of the counts, and removed as furniture otherwise.
                    if (Measure(child, isLink).ProseParagraphs > 0) ProseNoscripts.Add(child);
                    _info.Remove(child);
                    continue;
                }
                var c = Measure(child, isLink);
                info.TextLength += c.TextLength;
                info.LinkLength += c.LinkLength;
                info.ProseParagraphs += c.ProseParagraphs;
            }
            else if (node.NodeType == NodeType.Text)
            {
                int n = CountNonSpace(node.TextContent);
                info.TextLength += n;
                if (isLink) info.LinkLength += n;
            }
        }
        if (info.ProseParagraphs == 0 && info.TextLength >= 80 && info.LinkLength < info.TextLength * 0.3
            && element.LocalName is "p" or "div" or "blockquote" or "section" or "span" && !ContentScorer.HasBlockChild(element))
            info.ProseParagraphs = 1;
        _info[element] = info;
        return info;
    }

    private static int CountNonSpace(string text)
    {
        int n = 0;
        foreach (char c in text)
        {
            if (!char.IsWhiteSpace(c)) n++;
        }
        return n;
    }
}
