namespace LmForge.Data.Pipeline;

/// <summary>One document flowing through the pipeline: the unit every stage reads, keeps, changes or drops.</summary>
public sealed class Document
{
    public Document(string id, string text)
    {
        Id = id;
        Text = text;
    }

    public string Id { get; set; }

    public string Text { get; set; }

    /// <summary>The page address, when the document came from the web.</summary>
    public string? Url { get; set; }

    /// <summary>Free-form fields (language, scores, dump name, ...) written out with the document.</summary>
    public Dictionary<string, object?> Metadata { get; } = new(StringComparer.Ordinal);
}
