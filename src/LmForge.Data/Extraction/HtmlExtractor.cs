using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Extraction;

/// <summary>
/// Pipeline step: replaces each document's HTML with its main text (<see cref="HtmlTextExtractor"/>); drops pages
/// with no text left ("no_text") and pages the extractor rejects ("extraction_error": an
/// <see cref="UnextractablePageException"/>: a page over <c>max_html_length</c> characters), counting both. Any other
/// exception is a bug and stops the task.
/// Recipe: <c>{"type": "html_extractor", "min_text_length": 1, "max_html_length": 16777216}</c>.
/// </summary>
[RecipeStep("html_extractor")]
public sealed class HtmlExtractor : IPipelineStep
{
    private readonly Func<string, string> _extract;

    public HtmlExtractor(StepParameters parameters)
    {
        MinTextLength = parameters.GetInt("min_text_length", 1);
        if (MinTextLength < 0) throw parameters.Invalid("min_text_length", $"expected a non-negative character count, got {MinTextLength}");
        int maxHtmlLength = parameters.GetInt("max_html_length", HtmlTextExtractor.DefaultMaxHtmlLength);
        if (maxHtmlLength < 1) throw parameters.Invalid("max_html_length", $"expected a positive character count, got {maxHtmlLength}");
        _extract = new HtmlTextExtractor { MaxHtmlLength = maxHtmlLength }.Extract;
    }

    public HtmlExtractor() => _extract = new HtmlTextExtractor().Extract;

    /// <summary>Runs <paramref name="extract"/> instead of the built-in extractor (tests give it one that fails).</summary>
    internal HtmlExtractor(Func<string, string> extract) => _extract = extract;

    public string Name => "html_extractor";

    /// <summary>Pages whose extracted text is shorter are removed as "no_text".</summary>
    public int MinTextLength { get; init; } = 1;

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        foreach (var document in documents)
        {
            stats.Received(document);
            string text;
            try
            {
                text = _extract(document.Text);
            }
            catch (UnextractablePageException e)
            {
                context.Log?.Invoke($"{Name}: {document.Id} ({document.Url}): extraction failed: {e.Message}");
                stats.Removed(document, "extraction_error");
                context.RemovedDocumentSink?.Invoke(Name, "extraction_error", document);
                continue;
            }
            if (text.Length < MinTextLength)
            {
                stats.Removed(document, "no_text");
                context.RemovedDocumentSink?.Invoke(Name, "no_text", document);
                continue;
            }
            // Stats count characters as received (HTML) and kept (text), so the extraction ratio can be read off.
            document.Text = text;
            stats.Kept(document);
            yield return document;
        }
    }
}
