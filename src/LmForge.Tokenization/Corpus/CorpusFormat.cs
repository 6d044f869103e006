namespace LmForge.Tokenization.Corpus;

/// <summary>How the bytes of a corpus file are laid out.</summary>
public enum CorpusFormat
{
    /// <summary>UTF-8 text; the whole file is one document.</summary>
    Text,
    /// <summary>One JSON object per line with a string field <c>"text"</c>; each line is one document.</summary>
    Jsonl,
}
