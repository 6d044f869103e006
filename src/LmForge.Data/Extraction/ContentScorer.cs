using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>Finds the element (and the siblings) that hold the page's main text by scoring paragraphs into containers.</summary>
internal static class ContentScorer
{
    private const int MinParagraphLength = 25;

    public static IReadOnlyList<IElement> SelectContent(IElement body, PageMeasure measure)
    {
        ScoreParagraphs(body, measure);
        IElement? top = null;
        double topScore = 0;
        foreach (var (element, info) in measure.Candidates)
        {
            info.Score *= 1 - info.LinkDensity;
            // A title box named "content" is not the article: short candidates lose their name bonus in proportion.
            if (info.TextLength < 200) info.Score *= info.TextLength / 200.0;
            if (info.Score > topScore)
            {
                topScore = info.Score;
                top = element;
            }
        }
        if (top is null) return [body];

        // A lone child carries no more than its parent: prefer the parent, which may hold the siblings' text too.
        while (top.ParentElement is { } parent && parent != body && parent.Children.Length == 1 && measure.Get(parent).IsCandidate)
            top = parent;

        var parentOfTop = top.ParentElement;
        if (parentOfTop is null || top == body) return [top];
        var chosen = new List<IElement>();
        double threshold = Math.Max(10, topScore * 0.2);
        var topClass = top.GetAttribute("class");
        foreach (var sibling in parentOfTop.Children)
        {
            if (sibling == top) { chosen.Add(sibling); continue; }
            var info = measure.Get(sibling);
            double bonus = !string.IsNullOrEmpty(topClass) && sibling.GetAttribute("class") == topClass ? topScore * 0.2 : 0;
            if (info.IsCandidate && info.Score + bonus >= threshold) { chosen.Add(sibling); continue; }
            if (sibling.LocalName is "p" or "blockquote" or "pre" or "ul" or "ol" or "h2" or "h3" or "h4" || (sibling.LocalName == "div" && !HasBlockChild(sibling)))
            {
                int length = info.TextLength;
                double density = info.LinkDensity;
                if (length > 80 && density < 0.25) chosen.Add(sibling);
                else if (length is > 0 and <= 80 && density == 0 && EndsSentence(sibling.TextContent)) chosen.Add(sibling);
            }
        }
        return chosen;
    }

    private static void ScoreParagraphs(IElement element, PageMeasure measure)
    {
        foreach (var child in element.Children)
        {
            if (IsScoredParagraph(child, measure))
            {
                int length = measure.Get(child).TextLength;
                if (length >= MinParagraphLength)
                {
                    double score = 1 + CountCommas(child) + Math.Min(length / 100, 3);
                    var ancestor = child.ParentElement;
                    for (int level = 0; level < 3 && ancestor is not null && ancestor.LocalName != "html"; level++, ancestor = ancestor.ParentElement)
                    {
                        var info = measure.Get(ancestor);
                        if (!info.IsCandidate) Initialize(ancestor, info, measure);
                        info.Score += score / (level == 0 ? 1 : level == 1 ? 2 : level * 3);
                    }
                }
            }
            ScoreParagraphs(child, measure);
        }
    }

    private static bool IsScoredParagraph(IElement element, PageMeasure measure)
    {
        var tag = element.LocalName;
        if (BoilerplatePatterns.ScoredTags.Contains(tag)) return true;
        // Text kept directly in a div (old layouts separate paragraphs with <br>) counts as a paragraph.
        return tag is "div" or "section" or "article" or "span" or "font" or "li" && !HasBlockChild(element) && measure.Get(element).TextLength >= MinParagraphLength
            && (tag != "span" || element.ParentElement?.LocalName is not ("p" or "li" or "td" or "a"));
    }

    private static void Initialize(IElement element, PageMeasure.Info info, PageMeasure measure)
    {
        info.IsCandidate = true;
        info.Score = element.LocalName switch
        {
            "article" => 10,
            "div" or "section" or "main" => 5,
            "pre" or "td" or "blockquote" => 3,
            "address" or "ol" or "ul" or "dl" or "dd" or "dt" or "li" or "form" => -3,
            "h1" or "h2" or "h3" or "h4" or "h5" or "h6" or "th" => -5,
            _ => 0,
        };
        var names = measure.Names(element);
        if ((names & (NameFlags.StrongNegative | NameFlags.WeakNegative)) != 0) info.Score -= 25;
        if ((names & NameFlags.Positive) != 0) info.Score += 25;
        if (element.GetAttribute("itemprop") == "articleBody") info.Score += 30;
    }

    internal static bool HasBlockChild(IElement element)
    {
        foreach (var child in element.Children)
        {
            if (BoilerplatePatterns.BlockTags.Contains(child.LocalName)) return true;
        }
        return false;
    }

    // Walks the text nodes rather than building TextContent: no string per paragraph.
    private static int CountCommas(INode node)
    {
        int n = 0;
        for (var child = node.FirstChild; child is not null; child = child.NextSibling)
        {
            if (child.NodeType == NodeType.Text)
            {
                foreach (char c in child.TextContent)
                {
                    if (c is ',' or '\uFF0C' or '\u3001' or '\u060C') n++;
                }
            }
            else if (child is IElement) n += CountCommas(child);
        }
        return n;
    }

    private static bool EndsSentence(string text)
    {
        var t = text.AsSpan().TrimEnd();
        return t.Length > 0 && t[^1] is '.' or '!' or '?' or '\u3002' or ':' or '"' or '\u201D';
    }
}
