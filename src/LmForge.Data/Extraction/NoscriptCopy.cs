using System.Text;
using AngleSharp.Dom;

namespace LmForge.Data.Extraction;

/// <summary>
/// Some blog platforms render the article with a script and put the only static copy inside &lt;noscript&gt;. A
/// noscript that holds prose whose opening is found nowhere else on the page is unwrapped (its children take its
/// place) so that it is scored as content; every other noscript stays furniture.
/// </summary>
internal static class NoscriptCopy
{
    // Non-space characters of a noscript's opening looked up in the rest of the page.
    private const int SampleLength = 80;

    /// <summary>Unwraps the noscripts (each holding prose) whose text is nowhere else; true when any was.</summary>
    public static bool UnwrapOnlyCopies(IElement body, IReadOnlyList<IElement> noscripts)
    {
        var outside = new StringBuilder();
        AppendNonSpaceText(body, outside);
        string rest = outside.ToString();
        bool unwrapped = false;
        foreach (var noscript in noscripts)
        {
            var own = new StringBuilder();
            AppendNonSpaceText(noscript, own, inside: true);
            if (own.Length == 0) continue;
            string sample = own.ToString(0, Math.Min(SampleLength, own.Length));
            if (rest.Contains(sample, StringComparison.Ordinal) || noscript.ParentElement is not { } parent) continue;
            while (noscript.FirstChild is { } child) parent.InsertBefore(child, noscript);
            noscript.Remove();
            unwrapped = true;
        }
        return unwrapped;
    }

    // The non-space characters of the text under node, outside scripts, styles and (unless inside one) noscripts.
    private static void AppendNonSpaceText(INode node, StringBuilder text, bool inside = false)
    {
        for (var child = node.FirstChild; child is not null; child = child.NextSibling)
        {
            if (child is IElement element)
            {
                if (element.LocalName is "script" or "style" or "template" || (!inside && element.LocalName == "noscript")) continue;
                AppendNonSpaceText(element, text, inside);
            }
            else if (child.NodeType == NodeType.Text)
            {
                foreach (char c in child.TextContent)
                {
                    if (!char.IsWhiteSpace(c)) text.Append(c);
                }
            }
        }
    }
}
