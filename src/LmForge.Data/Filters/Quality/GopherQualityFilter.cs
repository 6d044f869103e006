using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Filters.Quality;

/// <summary>Thresholds of the Gopher quality rules (datatrove's defaults). Null turns a rule off.</summary>
public sealed record GopherQualityOptions
{
    public int? MinWords { get; init; } = 50;
    public int? MaxWords { get; init; } = 100_000;
    public double? MinMeanWordLength { get; init; } = 3;
    public double? MaxMeanWordLength { get; init; } = 10;
    /// <summary>Max count of '#' (and, separately, of "..." plus '…') per word.</summary>
    public double? MaxSymbolWordRatio { get; init; } = 0.1;
    public double? MaxBulletLinesRatio { get; init; } = 0.9;
    public double? MaxEllipsisLinesRatio { get; init; } = 0.3;
    /// <summary>Min fraction of words holding at least one letter (datatrove calls it max_non_alpha_words_ratio).</summary>
    public double? MinAlphaWordsRatio { get; init; } = 0.8;
    public int? MinStopWords { get; init; } = 2;
    public IReadOnlyCollection<string> StopWords { get; init; } = ["the", "be", "to", "of", "and", "that", "have", "with"];

    /// <summary>Recipe parameters (datatrove's names; 0 turns a rule off): min_doc_words, max_doc_words,
    /// min_avg_word_length, max_avg_word_length, max_symbol_word_ratio, max_bullet_lines_ratio,
    /// max_ellipsis_lines_ratio, min_alpha_words_ratio, min_stop_words, stop_words.</summary>
    public static GopherQualityOptions From(StepParameters p)
    {
        var d = new GopherQualityOptions();
        return new GopherQualityOptions
        {
            MinWords = QualityParameters.Count(p, "min_doc_words", d.MinWords),
            MaxWords = QualityParameters.Count(p, "max_doc_words", d.MaxWords),
            MinMeanWordLength = QualityParameters.Fraction(p, "min_avg_word_length", d.MinMeanWordLength, max: 1000),
            MaxMeanWordLength = QualityParameters.Fraction(p, "max_avg_word_length", d.MaxMeanWordLength, max: 1000),
            MaxSymbolWordRatio = QualityParameters.Fraction(p, "max_symbol_word_ratio", d.MaxSymbolWordRatio, max: 1000),
            MaxBulletLinesRatio = QualityParameters.Fraction(p, "max_bullet_lines_ratio", d.MaxBulletLinesRatio),
            MaxEllipsisLinesRatio = QualityParameters.Fraction(p, "max_ellipsis_lines_ratio", d.MaxEllipsisLinesRatio),
            MinAlphaWordsRatio = QualityParameters.Fraction(p, "min_alpha_words_ratio", d.MinAlphaWordsRatio),
            MinStopWords = QualityParameters.Count(p, "min_stop_words", d.MinStopWords),
            StopWords = p.GetStrings("stop_words", [.. d.StopWords]),
        };
    }
}

/// <summary>
/// Gopher's quality heuristics with datatrove's rule names and arithmetic: word counts and mean word length over words
/// that are not pure punctuation (gopher_short_doc, gopher_long_doc, gopher_below_avg_threshold,
/// gopher_above_avg_threshold); '#' and ellipsis counts over all tokens (gopher_too_many_hashes,
/// gopher_too_many_ellipsis); lines starting with '•'/'-' or ending with "..."/'…' (gopher_too_many_bullets,
/// gopher_too_many_end_ellipsis); words with a letter (gopher_below_alpha_threshold); distinct stop words present,
/// case-sensitive as in datatrove (gopher_enough_stop_words).
/// </summary>
[RecipeStep("gopher_quality")]
public sealed class GopherQualityFilter : DocumentFilter
{
    public GopherQualityFilter(StepParameters parameters) : this(GopherQualityOptions.From(parameters)) { }

    private readonly GopherQualityOptions _options;
    private readonly string[] _stopWords;
    private readonly List<WordSpan> _words = [];
    private readonly List<WordSpan> _lines = [];

    public GopherQualityFilter(GopherQualityOptions? options = null)
    {
        _options = options ?? new GopherQualityOptions();
        _stopWords = [.. _options.StopWords.Distinct(StringComparer.Ordinal)];
    }

    public override string Name => "gopher_quality";

    protected override string? Reject(Document document)
    {
        string text = document.Text;
        QualityWordTokenizer.Split(text, _words);
        int wordCount = _words.Count;

        int nonSymbolWords = 0;
        long nonSymbolCharacters = 0;
        int alphaWords = 0;
        foreach (var word in _words)
        {
            var span = word.In(text);
            bool hasNonPunctuation = false, hasLetter = false;
            foreach (char c in span)
            {
                if (!QualityText.IsPunctuation(c)) hasNonPunctuation = true;
                if (char.IsLetter(c)) hasLetter = true;
            }
            if (hasNonPunctuation)
            {
                nonSymbolWords++;
                nonSymbolCharacters += span.Length;
            }
            if (hasLetter) alphaWords++;
        }

        if (_options.MinWords is { } minWords && nonSymbolWords < minWords) return "gopher_short_doc";
        if (_options.MaxWords is { } maxWords && nonSymbolWords > maxWords) return "gopher_long_doc";
        if (wordCount == 0) return "gopher_short_doc";

        double meanLength = nonSymbolWords == 0 ? double.NaN : (double)nonSymbolCharacters / nonSymbolWords;
        if (_options.MinMeanWordLength is { } minMean && meanLength < minMean) return "gopher_below_avg_threshold";
        if (_options.MaxMeanWordLength is { } maxMean && meanLength > maxMean) return "gopher_above_avg_threshold";

        if (_options.MaxSymbolWordRatio is { } symbolRatio)
        {
            if ((double)Count(text, "#") / wordCount > symbolRatio) return "gopher_too_many_hashes";
            if ((double)(Count(text, "...") + Count(text, "…")) / wordCount > symbolRatio) return "gopher_too_many_ellipsis";
        }

        QualityText.SplitLinesPython(text, _lines);
        if (_lines.Count > 0)
        {
            int bulletLines = 0, ellipsisLines = 0;
            foreach (var line in _lines)
            {
                var span = line.In(text);
                var left = span.TrimStart();
                if (left.StartsWith('•') || left.StartsWith('-')) bulletLines++;
                var right = span.TrimEnd();
                if (right.EndsWith("...", StringComparison.Ordinal) || right.EndsWith('…')) ellipsisLines++;
            }
            if (_options.MaxBulletLinesRatio is { } bullets && (double)bulletLines / _lines.Count > bullets) return "gopher_too_many_bullets";
            if (_options.MaxEllipsisLinesRatio is { } ellipsis && (double)ellipsisLines / _lines.Count > ellipsis) return "gopher_too_many_end_ellipsis";
        }

        if (_options.MinAlphaWordsRatio is { } alphaRatio && (double)alphaWords / wordCount < alphaRatio) return "gopher_below_alpha_threshold";

        if (_options.MinStopWords is { } minStop && CountStopWordsPresent(text) < minStop) return "gopher_enough_stop_words";
        return null;
    }

    private int CountStopWordsPresent(string text)
    {
        int present = 0;
        foreach (var stopWord in _stopWords)
        {
            foreach (var word in _words)
            {
                if (word.In(text).SequenceEqual(stopWord))
                {
                    present++;
                    break;
                }
            }
        }
        return present;
    }

    // Non-overlapping occurrences, as Python's str.count.
    private static int Count(string text, string needle)
    {
        int count = 0, index = 0;
        while ((index = text.IndexOf(needle, index, StringComparison.Ordinal)) >= 0)
        {
            count++;
            index += needle.Length;
        }
        return count;
    }
}
