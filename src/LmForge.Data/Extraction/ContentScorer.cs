using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>Finds the element (and the siblings) that hold the page's main text by scoring paragraphs into containers.</summary>
internal static class ContentScorer
{
    private const int MinParagraphLength = 25;

    public static IReadOnlyList<IElement> SelectContent(IElement body, PageMeasure measure, ExtractionExplanation? explanation = null)
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
        if (top is null)
        {
            explanation?.Chosen.Add(ExtractionExplanation.Describe(body, measure.Get(body).TextLength, "no paragraph scored: the whole body"));
            return [body];
        }

        // A lone child carries no more than its parent: prefer the parent, which may hold the siblings' text too.
        while (top.ParentElement is { } parent && parent != body && parent.Children.Length == 1 && measure.Get(parent).IsCandidate)
            top = parent;

        // A post in a thread (author line, body) whose siblings are posts built the same way: the thread is the content,
        // so a short question is not lost to the long answer that outscored it.
        if (top != body && top.ParentElement is { } post && post != body && HasSameStructureSibling(post, measure))
        {
            explanation?.Notes.Add($"the best block {ExtractionExplanation.StartTag(top)} is part of a post whose siblings are built alike: the posts are the content");
            top = post;
        }

        var parentOfTop = top.ParentElement;
        if (parentOfTop is null || top == body)
        {
            explanation?.Chosen.Add(ExtractionExplanation.Describe(top, measure.Get(top).TextLength, $"best score {topScore:F1}"));
            return [top];
        }
        var chosen = new List<IElement>();
        double threshold = Math.Max(10, topScore * 0.2);
        IElement? heading = null;
        foreach (var sibling in parentOfTop.Children)
        {
            var reason = sibling == top ? $"best score {topScore:F1}" : JoinsContent(sibling, top, measure, threshold);
            if (reason is not null)
            {
                // A subheading between two chosen blocks belongs to the text it heads.
                if (heading is not null && chosen.Count > 0)
                {
                    chosen.Add(heading);
                    explanation?.Chosen.Add(ExtractionExplanation.Describe(heading, measure.Get(heading).TextLength, "subheading between chosen blocks"));
                }
                chosen.Add(sibling);
                explanation?.Chosen.Add(ExtractionExplanation.Describe(sibling, measure.Get(sibling).TextLength, reason));
                heading = null;
            }
            else heading = sibling.LocalName is "h2" or "h3" or "h4" or "h5" or "h6" && measure.Get(sibling) is { TextLength: > 0, LinkDensity: < 0.5 } ? sibling : null;
        }
        return chosen;
    }

    // A sibling of the chosen container is content when it scores close to it, reads like prose, or is built like it
    // (the same tag and first class word: text split over blocks "block block--text", "block block--list", or the
    // question above its answers in a thread), unless it is mostly links or only a title.
    private static string? JoinsContent(IElement sibling, IElement top, PageMeasure measure, double threshold)
    {
        var info = measure.Get(sibling);
        if (info.IsCandidate && info.Score >= threshold) return $"sibling scoring {info.Score:F1}, at least {threshold:F1}";
        if (info.TextLength >= MinParagraphLength && info.LinkDensity < 0.5 && SameStructure(sibling, top)) return "sibling built like the best block";
        if (sibling.LocalName is "p" or "blockquote" or "pre" or "ul" or "ol" or "h2" or "h3" or "h4" || (sibling.LocalName == "div" && !HasBlockChild(sibling)))
        {
            int length = info.TextLength;
            double density = info.LinkDensity;
            if (length > 80 && density < 0.25) return "sibling reading like prose";
            if (length is > 0 and <= 80 && density == 0 && EndsSentence(sibling.TextContent)) return "sibling ending a sentence";
        }
        return null;
    }

    private static bool HasSameStructureSibling(IElement element, PageMeasure measure)
    {
        foreach (var sibling in element.ParentElement!.Children)
        {
            if (sibling != element && measure.Get(sibling) is { IsCandidate: true, LinkDensity: < 0.5 } && SameStructure(sibling, element)) return true;
        }
        return false;
    }

    // The same tag and the same class words once modifiers ("block--list", "is-accepted", "has-image") are set aside:
    // CSS frameworks' layout words ("grid-container row-more") must all agree, so a layout grid does not pass for a block.
    private static bool SameStructure(IElement a, IElement b)
    {
        if (a.LocalName != b.LocalName) return false;
        var words = BaseClassWords(a.GetAttribute("class"));
        return words.Count > 0 && words.SetEquals(BaseClassWords(b.GetAttribute("class")));
    }

    private static HashSet<string> BaseClassWords(string? classes)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        if (classes is null) return words;
        foreach (var word in classes.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!word.Contains("--", StringComparison.Ordinal) && !word.StartsWith("is-", StringComparison.Ordinal) && !word.StartsWith("has-", StringComparison.Ordinal))
                words.Add(word);
        }
        return words;
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
