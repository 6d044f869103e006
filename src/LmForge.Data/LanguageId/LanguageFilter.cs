using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization;

namespace LmForge.Data.LanguageId;

/// <summary>
/// Keeps documents written in one of the given languages: the model's probability of the best of those languages
/// must be at least Threshold (FineWeb: English at 0.65). Writes the most likely language and its probability to
/// Metadata["language"] and Metadata["language_score"] of every document, kept or not, and counts documents per
/// most likely language (counters "language_en", ...; "language_und" for text without letters). Reason: "language".
/// </summary>
[RecipeStep("language_filter")]
public sealed class LanguageFilter : DocumentFilter
{
    private readonly LanguageIdModel _model;
    private readonly int[] _wanted;
    private readonly float _threshold;

    public LanguageFilter(LanguageIdModel model, IReadOnlyCollection<string>? languages = null, double threshold = 0.65)
    {
        languages ??= ["en"];
        if (threshold is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "threshold must be in [0, 1]");
        _model = model;
        _threshold = (float)threshold;
        _wanted = [.. languages.Select(l =>
        {
            int index = model.Languages.ToList().IndexOf(l);
            return index >= 0 ? index : throw new ArgumentException($"language '{l}' is not one the model knows: {string.Join(", ", model.Languages)}");
        })];
    }

    /// <summary>Recipe parameters: languages (default ["en"]), threshold (default 0.65), model (default: the built-in model).</summary>
    public LanguageFilter(StepParameters parameters) : this(FromParameters(parameters)) { }

    private LanguageFilter((LanguageIdModel Model, IReadOnlyList<string> Languages, double Threshold) a) : this(a.Model, a.Languages, a.Threshold) { }

    private static (LanguageIdModel, IReadOnlyList<string>, double) FromParameters(StepParameters p)
    {
        var model = LoadModel(p);
        var languages = p.GetStrings("languages", ["en"]);
        foreach (var language in languages)
            if (!model.Languages.Contains(language)) throw p.Invalid("languages", $"'{UntrustedText.Excerpt(language)}' is not a language of the model, expected some of: {string.Join(", ", model.Languages)}");
        return (model, languages, ReadThreshold(p));
    }

    private static LanguageIdModel LoadModel(StepParameters p)
    {
        string? path = p.GetOptionalPath("model");
        try
        {
            return path is null ? LanguageIdModel.BuiltIn : LanguageIdModel.Load(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw p.Invalid("model", e.Message);
        }
    }

    private static double ReadThreshold(StepParameters p)
    {
        double t = p.GetDouble("threshold", 0.65);
        return t is >= 0 and <= 1 ? t : throw p.Invalid("threshold", $"expected a probability in [0, 1], got {t}");
    }

    public override string Name => "language_filter";

    protected override string? Reject(Document document)
    {
        Span<float> probabilities = stackalloc float[_model.Stride];
        if (!_model.Probabilities(document.Text, probabilities))
        {
            document.Metadata["language"] = "und";
            document.Metadata["language_score"] = 0.0;
            Stats?.Count("language_und");
            return "language";
        }
        int best = 0;
        for (int c = 1; c < _model.Languages.Count; c++) if (probabilities[c] > probabilities[best]) best = c;
        document.Metadata["language"] = _model.Languages[best];
        document.Metadata["language_score"] = Math.Round(probabilities[best], 4);
        Stats?.Count("language_" + _model.Languages[best]);
        foreach (int wanted in _wanted)
            if (probabilities[wanted] >= _threshold) return null;
        return "language";
    }
}
