using System.Text;
using System.Text.RegularExpressions;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Filters.Quality;

/// <summary>C4's rules (Raffel et al. 2020) as FineWeb runs them through datatrove: defaults match FineWeb, which turns
/// the terminal-punctuation line rule off.</summary>
public sealed record C4QualityOptions
{
    /// <summary>Drop lines that do not end in . ? ! " ' (or that end in "..."). FineWeb: off.</summary>
    public bool FilterNoTerminalPunctuation { get; init; }
    /// <summary>Remove Wikipedia-style citation marks ([1], [edit], [citation needed]) from lines.</summary>
    public bool RemoveCitations { get; init; } = true;
    /// <summary>Drop the document when fewer sentences than this remain after line filtering; -1 turns it off.</summary>
    public int MinSentences { get; init; } = 5;
    /// <summary>Drop lines with fewer whitespace-separated words than this; -1 turns it off.</summary>
    public int MinWordsPerLine { get; init; } = 3;
    /// <summary>Drop lines holding a word longer than this; -1 turns it off.</summary>
    public int MaxWordLength { get; init; } = 1000;
    public bool FilterLoremIpsum { get; init; } = true;
    public bool FilterJavascript { get; init; } = true;
    public bool FilterCurlyBracket { get; init; } = true;
    public bool FilterPolicy { get; init; } = true;
    public IReadOnlyList<string> PolicySubstrings { get; init; } =
        ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

    /// <summary>Recipe parameters (datatrove's names): filter_no_terminal_punct, remove_citations, min_num_sentences,
    /// min_words_per_line, max_word_length (-1 turns these three off), filter_lorem_ipsum, filter_javascript,
    /// filter_curly_bracket, filter_policy.</summary>
    public static C4QualityOptions From(StepParameters p)
    {
        var d = new C4QualityOptions();
        int Limit(string name, int value)
        {
            int v = p.GetInt(name, value);
            return v >= -1 ? v : throw p.Invalid(name, $"expected -1 (off) or a count >= 0, got {v}");
        }
        return new C4QualityOptions
        {
            FilterNoTerminalPunctuation = p.GetBool("filter_no_terminal_punct", d.FilterNoTerminalPunctuation),
            RemoveCitations = p.GetBool("remove_citations", d.RemoveCitations),
            MinSentences = Limit("min_num_sentences", d.MinSentences),
            MinWordsPerLine = Limit("min_words_per_line", d.MinWordsPerLine),
            MaxWordLength = Limit("max_word_length", d.MaxWordLength),
            FilterLoremIpsum = p.GetBool("filter_lorem_ipsum", d.FilterLoremIpsum),
            FilterJavascript = p.GetBool("filter_javascript", d.FilterJavascript),
            FilterCurlyBracket = p.GetBool("filter_curly_bracket", d.FilterCurlyBracket),
            FilterPolicy = p.GetBool("filter_policy", d.FilterPolicy),
        };
    }
}

/// <summary>
/// C4's line and document rules as datatrove applies them. Each line (Python splitlines, trimmed) is dropped for a word
/// over MaxWordLength chars, for missing terminal punctuation (when on), for fewer than MinWordsPerLine words, for
/// mentioning "javascript", or for a policy phrase (counted as line-filter-* counters). The whole document is dropped
/// for "lorem ipsum" (lorem_ipsum), a '{' (curly_bracket), or fewer than MinSentences sentences in the kept lines
/// (too_few_sentences). A kept document's text becomes its kept lines joined by '\n'.
/// Sentences: a line holds 1 + the number of sentence breaks, a break being . ! or ? (with closing quotes/brackets)
/// followed by whitespace and a character that is not a lower-case letter, outside a few common abbreviations; this
/// stands in for NLTK's Punkt, which datatrove uses.
/// </summary>
[RecipeStep("c4_quality")]
public sealed partial class C4QualityFilter(C4QualityOptions? options = null) : DocumentFilter, IPipelineStep
{
    public C4QualityFilter(StepParameters parameters) : this(C4QualityOptions.From(parameters)) { }

    private readonly C4QualityOptions _options = options ?? new C4QualityOptions();
    private readonly List<WordSpan> _lines = [];
    private readonly StringBuilder _kept = new();
    private StepStats? _stats;

    public override string Name => "c4_quality";

    [GeneratedRegex(@"\[\d*]|\[edit]|\[citation needed]")]
    private static partial Regex CitationPattern();

    public new IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        _stats = context.Stats.For(Name);
        return base.Run(documents, context);
    }

    protected override string? Reject(Document document)
    {
        string text = document.Text;
        QualityText.SplitLinesPython(text, _lines);
        _kept.Clear();
        int sentences = 0;
        foreach (var lineSpan in _lines)
        {
            var line = lineSpan.In(text).Trim();
            int words = 0;
            bool tooLongWord = false;
            foreach (var range in line.SplitAny(" \t\n\r\v\f"))
            {
                if (range.End.Value == range.Start.Value) continue;
                words++;
                if (_options.MaxWordLength != -1 && range.End.Value - range.Start.Value > _options.MaxWordLength) tooLongWord = true;
            }
            Count("line-total");
            if (tooLongWord)
            {
                Count("line-filter-too_long_word");
                continue;
            }
            string lineText = line.ToString();
            if (_options.RemoveCitations && lineText.Contains('[')) lineText = CitationPattern().Replace(lineText, "");
            if (_options.FilterNoTerminalPunctuation && (!EndsWithC4Punctuation(lineText) || lineText.EndsWith("...", StringComparison.Ordinal)))
            {
                Count("line-filter-no_terminal_punc");
                continue;
            }
            if (words < _options.MinWordsPerLine)
            {
                Count("line-filter-too_few_words");
                continue;
            }
            if (_options.FilterLoremIpsum && lineText.Contains("lorem ipsum", StringComparison.OrdinalIgnoreCase)) return "lorem_ipsum";
            if (_options.FilterJavascript && lineText.Contains("javascript", StringComparison.OrdinalIgnoreCase))
            {
                Count("line-filter-javascript");
                continue;
            }
            if (_options.FilterCurlyBracket && lineText.Contains('{')) return "curly_bracket";
            if (_options.FilterPolicy && ContainsPolicyPhrase(lineText))
            {
                Count("line-filter-policy");
                continue;
            }
            if (_options.MinSentences != -1) sentences += CountSentences(lineText);
            if (_kept.Length > 0) _kept.Append('\n');
            _kept.Append(lineText);
            Count("line-kept");
        }
        if (sentences < _options.MinSentences) return "too_few_sentences";
        document.Text = _kept.ToString().Trim();
        return null;
    }

    private void Count(string counter) => _stats?.Count(counter);

    private bool ContainsPolicyPhrase(string line)
    {
        foreach (var phrase in _options.PolicySubstrings)
            if (line.Contains(phrase, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private static bool EndsWithC4Punctuation(string line) =>
        line.Length > 0 && line[^1] is '.' or '?' or '!' or '"' or '\'';

    private static readonly string[] Abbreviations = ["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "no", "fig"];

    /// <summary>Sentences in one line: 1 + breaks (see the class comment); 0 for an empty line.</summary>
    public static int CountSentences(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return 0;
        int sentences = 1;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] is not ('.' or '!' or '?')) continue;
            int end = i + 1;
            while (end < line.Length && line[end] is '.' or '!' or '?' or '"' or '\'' or ')' or ']' or '”' or '’') end++;
            if (end >= line.Length || !char.IsWhiteSpace(line[end])) continue;
            int next = end;
            while (next < line.Length && char.IsWhiteSpace(line[next])) next++;
            if (next >= line.Length) continue;
            if (char.IsLower(line[next])) continue;
            if (line[i] == '.' && IsAbbreviationBefore(line, i)) continue;
            sentences++;
            i = next - 1;
        }
        return sentences;
    }

    private static bool IsAbbreviationBefore(string line, int periodIndex)
    {
        int start = periodIndex;
        while (start > 0 && !char.IsWhiteSpace(line[start - 1])) start--;
        var word = line.AsSpan(start, periodIndex - start);
        if (word.Length == 1 && char.IsUpper(word[0])) return true;
        foreach (var abbreviation in Abbreviations)
            if (word.Equals(abbreviation, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
