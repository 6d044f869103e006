namespace LmForge.Data.Extraction;

/// <summary>
/// A page the extractor refuses as input (not a fault of the extractor): the pipeline counts it as
/// "extraction_error" and goes on, where any other exception from extraction is a bug that stops the task.
/// </summary>
public sealed class UnextractablePageException(string message) : Exception(message);
