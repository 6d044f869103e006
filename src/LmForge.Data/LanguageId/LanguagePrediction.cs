namespace LmForge.Data.LanguageId;

/// <summary>The most likely language of a text (an ISO 639-1 code such as "en", or "und" for a text with no letters)
/// and the model's probability for it, in [0, 1].</summary>
public readonly record struct LanguagePrediction(string Language, float Score);
