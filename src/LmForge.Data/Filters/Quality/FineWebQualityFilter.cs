using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Filters.Quality;

/// <summary>Thresholds of FineWeb's own quality rules (Penedo et al. 2024; datatrove's defaults).</summary>
public sealed record FineWebQualityOptions
{
    /// <summary>Min fraction of non-blank lines ending in terminal punctuation.</summary>
    public double LinePunctuationRatio { get; init; } = 0.12;
    /// <summary>When true, a document with no punctuated line at all is not dropped by the rule above.</summary>
    public bool LinePunctuationExcludeZero { get; init; }
    /// <summary>Max fraction of non-blank lines that are at most ShortLineLength characters long.</summary>
    public double ShortLineRatio { get; init; } = 0.67;
    public int ShortLineLength { get; init; } = 30;
    /// <summary>Max fraction of characters (newlines not counted) inside lines that repeat an earlier line.</summary>
    public double CharacterDuplicatesRatio { get; init; } = 0.01;
    /// <summary>Max newlines per word.</summary>
    public double NewLineRatio { get; init; } = 0.3;

    /// <summary>Recipe parameters (datatrove's names): line_punct_thr, line_punct_exclude_zero, short_line_thr,
    /// short_line_length, char_duplicates_ratio, new_line_ratio; 0 turns a rule off.</summary>
    public static FineWebQualityOptions From(StepParameters p)
    {
        var d = new FineWebQualityOptions();
        return new FineWebQualityOptions
        {
            LinePunctuationRatio = QualityParameters.Fraction(p, "line_punct_thr", d.LinePunctuationRatio) ?? 0,
            LinePunctuationExcludeZero = p.GetBool("line_punct_exclude_zero", d.LinePunctuationExcludeZero),
            ShortLineRatio = QualityParameters.Fraction(p, "short_line_thr", d.ShortLineRatio) ?? double.PositiveInfinity,
            ShortLineLength = QualityParameters.Count(p, "short_line_length", d.ShortLineLength) ?? 0,
            CharacterDuplicatesRatio = QualityParameters.Fraction(p, "char_duplicates_ratio", d.CharacterDuplicatesRatio) ?? double.PositiveInfinity,
            NewLineRatio = QualityParameters.Fraction(p, "new_line_ratio", d.NewLineRatio, max: 1000) ?? double.PositiveInfinity,
        };
    }
}

/// <summary>
/// FineWeb's quality rules with datatrove's names: empty (no non-blank line), line_punct_ratio, short_line_ratio,
/// char_dup_ratio, list_ratio. Lines are the text split at '\n' without blank ones; line lengths and endings are
/// taken as they are (not trimmed), as in datatrove.
/// </summary>
[RecipeStep("fineweb_quality")]
public sealed class FineWebQualityFilter(FineWebQualityOptions? options = null) : DocumentFilter
{
    public FineWebQualityFilter(StepParameters parameters) : this(FineWebQualityOptions.From(parameters)) { }

    private readonly FineWebQualityOptions _options = options ?? new FineWebQualityOptions();
    private readonly List<WordSpan> _lines = [];
    private readonly List<WordSpan> _words = [];
    private readonly HashSet<ulong> _seen = [];

    public override string Name => "fineweb_quality";

    protected override string? Reject(Document document)
    {
        string text = document.Text;
        _lines.Clear();
        int newLines = 0;
        int start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == '\n')
            {
                if (i < text.Length) newLines++;
                var line = new WordSpan(start, i - start);
                if (!line.In(text).IsWhiteSpace()) _lines.Add(line);
                start = i + 1;
            }
        }
        if (_lines.Count == 0) return "empty";

        int punctuated = 0, shortLines = 0;
        foreach (var line in _lines)
        {
            if (QualityText.EndsWithTerminalPunctuation(line.In(text))) punctuated++;
            if (line.Length <= _options.ShortLineLength) shortLines++;
        }
        double punctuationRatio = (double)punctuated / _lines.Count;
        if (punctuationRatio < _options.LinePunctuationRatio && !(punctuationRatio == 0 && _options.LinePunctuationExcludeZero)) return "line_punct_ratio";
        if ((double)shortLines / _lines.Count > _options.ShortLineRatio) return "short_line_ratio";

        var (_, duplicateCharacters) = QualityText.CountDuplicates(text, _lines, _seen);
        int charactersWithoutNewLines = text.Length - newLines;
        if ((double)duplicateCharacters / charactersWithoutNewLines > _options.CharacterDuplicatesRatio) return "char_dup_ratio";

        QualityWordTokenizer.Split(text, _words);
        if (_words.Count == 0 || (double)newLines / _words.Count > _options.NewLineRatio) return "list_ratio";
        return null;
    }
}
