using System.Globalization;
using System.Text;

namespace LmForge.Training.PostTraining;

/// <summary>
/// Unicode compatibility decomposition (NFKD) with the diacritics dropped: "Ångström" → "Angstrom", "ﬁ" → "fi",
/// "Ｐａｒｉｓ" → "Paris", "½" → "1⁄2", and a letter followed by combining accents → the bare letter. The tool runs
/// with invariant globalization, where <see cref="string.Normalize()"/> returns its input unchanged, so the
/// decompositions come from a table made from UnicodeData.txt (<c>Folding/make-folding.sh</c>), built into the library:
/// every code point with a decomposition maps to its full NFKD less the nonspacing marks (category Mn), and every other
/// nonspacing mark is dropped. Hangul syllables (decomposed by algorithm, not by table) are kept whole.
/// </summary>
public static class UnicodeFolding
{
    private const string Resource = "LmForge.Training.PostTraining.Folding.folding.txt";
    private static readonly Lazy<Dictionary<int, string>> s_table = new(Load);

    /// <summary>The text decomposed (NFKD) with its nonspacing marks removed; case is kept.</summary>
    public static string Fold(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var table = s_table.Value;
        var folded = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (table.TryGetValue(rune.Value, out string? decomposed)) folded.Append(decomposed);
            else if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) folded.Append(rune.ToString());
        }
        return folded.ToString();
    }

    private static Dictionary<int, string> Load()
    {
        using var stream = typeof(UnicodeFolding).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"the folding table {Resource} is missing from {typeof(UnicodeFolding).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        var table = new Dictionary<int, string>();
        var folded = new StringBuilder();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            string[] fields = line.Split(' ');
            folded.Clear();
            for (int i = 1; i < fields.Length; i++) folded.Append(char.ConvertFromUtf32(int.Parse(fields[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            table[int.Parse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = folded.ToString();
        }
        return table;
    }
}
