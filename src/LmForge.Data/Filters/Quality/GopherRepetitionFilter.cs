using LmForge.Data.Dedup;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Filters.Quality;

/// <summary>Thresholds of the Gopher repetition rules (Rae et al. 2021, table A1; datatrove's defaults). Null turns a rule off.</summary>
public sealed record GopherRepetitionOptions
{
    public double? DuplicateLineFraction { get; init; } = 0.3;
    public double? DuplicateParagraphFraction { get; init; } = 0.3;
    public double? DuplicateLineCharacterFraction { get; init; } = 0.2;
    public double? DuplicateParagraphCharacterFraction { get; init; } = 0.2;
    /// <summary>(n, max fraction of characters covered by the most frequent n-gram).</summary>
    public IReadOnlyList<(int N, double Fraction)> TopNGrams { get; init; } = [(2, 0.20), (3, 0.18), (4, 0.16)];
    /// <summary>(n, max fraction of characters inside repeated n-grams).</summary>
    public IReadOnlyList<(int N, double Fraction)> DuplicatedNGrams { get; init; } =
        [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)];

    /// <summary>Recipe parameters (datatrove's names; 0 turns a rule off): dup_line_frac, dup_para_frac,
    /// dup_line_char_frac, dup_para_char_frac, top_2_gram .. top_4_gram, dup_5_gram .. dup_10_gram.</summary>
    public static GopherRepetitionOptions From(StepParameters p)
    {
        var d = new GopherRepetitionOptions();
        return new GopherRepetitionOptions
        {
            DuplicateLineFraction = QualityParameters.Fraction(p, "dup_line_frac", d.DuplicateLineFraction),
            DuplicateParagraphFraction = QualityParameters.Fraction(p, "dup_para_frac", d.DuplicateParagraphFraction),
            DuplicateLineCharacterFraction = QualityParameters.Fraction(p, "dup_line_char_frac", d.DuplicateLineCharacterFraction),
            DuplicateParagraphCharacterFraction = QualityParameters.Fraction(p, "dup_para_char_frac", d.DuplicateParagraphCharacterFraction),
            TopNGrams = [.. d.TopNGrams.Select(t => (t.N, QualityParameters.Fraction(p, $"top_{t.N}_gram", t.Fraction))).Where(t => t.Item2 is not null).Select(t => (t.N, t.Item2!.Value))],
            DuplicatedNGrams = [.. d.DuplicatedNGrams.Select(t => (t.N, QualityParameters.Fraction(p, $"dup_{t.N}_gram", t.Fraction))).Where(t => t.Item2 is not null).Select(t => (t.N, t.Item2!.Value))],
        };
    }
}

/// <summary>
/// Drops documents that repeat themselves, with datatrove's rule names:
/// dup_para_frac / dup_para_char_frac (paragraphs split at 2+ newlines), dup_line_frac / dup_line_char_frac (lines split at
/// newlines), top_{n}_gram (count x length of the most frequent n-gram over the text length, n-gram written with spaces),
/// duplicated_{n}_n_grams (characters of n-grams seen before, scanning left to right and jumping n words past a repeat,
/// n-grams counted without spaces). All fractions are of the whole text's length in characters.
/// </summary>
[RecipeStep("gopher_repetition")]
public sealed class GopherRepetitionFilter(GopherRepetitionOptions? options = null) : DocumentFilter
{
    public GopherRepetitionFilter(StepParameters parameters) : this(GopherRepetitionOptions.From(parameters)) { }

    private readonly GopherRepetitionOptions _options = options ?? new GopherRepetitionOptions();
    private readonly List<WordSpan> _segments = [];
    private readonly List<WordSpan> _words = [];
    private readonly HashSet<ulong> _seen = [];
    private readonly Dictionary<ulong, int> _counts = [];
    private ulong[] _wordHashes = new ulong[256];

    public override string Name => "gopher_repetition";

    protected override string? Reject(Document document)
    {
        string text = document.Text;
        if (text.Length == 0) return "empty_document";

        SplitParagraphs(text, _segments);
        var (paragraphDuplicates, paragraphDuplicateChars) = QualityText.CountDuplicates(text, _segments, _seen);
        if (_options.DuplicateParagraphFraction is { } paraFrac && (double)paragraphDuplicates / _segments.Count > paraFrac) return "dup_para_frac";
        if (_options.DuplicateParagraphCharacterFraction is { } paraChar && (double)paragraphDuplicateChars / text.Length > paraChar) return "dup_para_char_frac";

        SplitLines(text, _segments);
        var (lineDuplicates, lineDuplicateChars) = QualityText.CountDuplicates(text, _segments, _seen);
        if (_options.DuplicateLineFraction is { } lineFrac && (double)lineDuplicates / _segments.Count > lineFrac) return "dup_line_frac";
        if (_options.DuplicateLineCharacterFraction is { } lineChar && (double)lineDuplicateChars / text.Length > lineChar) return "dup_line_char_frac";

        QualityWordTokenizer.Split(text, _words);
        if (_wordHashes.Length < _words.Count) _wordHashes = new ulong[Math.Max(_words.Count, _wordHashes.Length * 2)];
        for (int i = 0; i < _words.Count; i++) _wordHashes[i] = StableHash.Hash64(_words[i].In(text));

        foreach (var (n, fraction) in _options.TopNGrams)
        {
            if (_words.Count < n) continue;
            if ((double)TopNGramCharacters(n) / text.Length > fraction) return $"top_{n}_gram";
        }
        foreach (var (n, fraction) in _options.DuplicatedNGrams)
        {
            if ((double)DuplicatedNGramCharacters(n) / text.Length > fraction) return $"duplicated_{n}_n_grams";
        }
        return null;
    }

    // Paragraphs of text.strip() split at runs of two or more newlines.
    private static void SplitParagraphs(string text, List<WordSpan> paragraphs)
    {
        paragraphs.Clear();
        int start = 0, end = text.Length;
        while (start < end && char.IsWhiteSpace(text[start])) start++;
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        int segmentStart = start;
        int i = start;
        while (i < end)
        {
            if (text[i] == '\n' && i + 1 < end && text[i + 1] == '\n')
            {
                paragraphs.Add(new WordSpan(segmentStart, i - segmentStart));
                while (i < end && text[i] == '\n') i++;
                segmentStart = i;
            }
            else i++;
        }
        paragraphs.Add(new WordSpan(segmentStart, end - segmentStart));
    }

    // Lines of text split at runs of newlines (empty first/last pieces kept, as re.split does).
    private static void SplitLines(string text, List<WordSpan> lines)
    {
        lines.Clear();
        int segmentStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] == '\n')
            {
                lines.Add(new WordSpan(segmentStart, i - segmentStart));
                while (i < text.Length && text[i] == '\n') i++;
                segmentStart = i;
            }
            else i++;
        }
        lines.Add(new WordSpan(segmentStart, text.Length - segmentStart));
    }

    private ulong NGramHash(int first, int n)
    {
        ulong h = (ulong)n;
        for (int k = 0; k < n; k++) h = StableHash.Combine(h, _wordHashes[first + k]);
        return h;
    }

    private int NGramCharacters(int first, int n)
    {
        int chars = 0;
        for (int k = 0; k < n; k++) chars += _words[first + k].Length;
        return chars;
    }

    // Count x length (with the n-1 joining spaces) of the most frequent n-gram; ties go to the one seen first, as
    // Python's Counter.most_common(1) does.
    private int TopNGramCharacters(int n)
    {
        _counts.Clear();
        int bestCount = 0;
        for (int i = 0; i + n <= _words.Count; i++)
        {
            var h = NGramHash(i, n);
            _counts.TryGetValue(h, out int count);
            _counts[h] = ++count;
            bestCount = Math.Max(bestCount, count);
        }
        for (int i = 0; i + n <= _words.Count; i++)
        {
            if (_counts[NGramHash(i, n)] == bestCount) return bestCount * (NGramCharacters(i, n) + n - 1);
        }
        return 0;
    }

    // Characters (without spaces) of n-grams already seen; after a repeat the scan jumps n words so overlaps count once.
    private int DuplicatedNGramCharacters(int n)
    {
        _seen.Clear();
        int repeated = 0;
        int i = 0;
        while (i < _words.Count - n + 1)
        {
            if (!_seen.Add(NGramHash(i, n)))
            {
                repeated += NGramCharacters(i, n);
                i += n;
            }
            else i++;
        }
        return repeated;
    }
}
