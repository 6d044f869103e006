using System.Text.Json;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Facts about countries and territories from the npm package countries-list (MIT): capital, continent (all of
/// them accepted for a country on two), currency (the first listed) and languages (any one accepted). Reads four
/// files of the package: countries.min.json (code → name, alias, continent(s), capital, currency codes, language
/// codes), and the names behind the codes in continents.min.json, currencies.min.json and languages.min.json.
/// Empty fields (Antarctica's capital) give no fact.
/// </summary>
public static class CountriesList
{
    public const string Source = "countries-list@3.4.1";

    public static readonly string[] Files = ["countries.min.json", "continents.min.json", "currencies.min.json", "languages.min.json"];

    static readonly HashSet<string> PluralNames = new(StringComparer.Ordinal) { "Bahamas", "Comoros", "Gambia", "Maldives", "Netherlands", "Philippines", "Seychelles" };
    static readonly HashSet<string> TheLastWords = new(StringComparer.Ordinal) { "Emirates", "Islands", "Kingdom", "Republic", "States", "Territories", "Territory" };

    public static List<Fact> Read(string directory)
    {
        var continents = ReadNames(new SourceFile(Path.Combine(directory, Files[1])), named: false);
        var currencies = ReadNames(new SourceFile(Path.Combine(directory, Files[2])), named: true);
        var languages = ReadNames(new SourceFile(Path.Combine(directory, Files[3])), named: true);
        var file = new SourceFile(Path.Combine(directory, Files[0]));
        using var json = file.ParseJson();
        if (json.RootElement.ValueKind != JsonValueKind.Object) throw file.ErrorAt(1, "expected an object of countries by code");
        var facts = new List<Fact>();
        foreach (var country in json.RootElement.EnumerateObject())
        {
            string entry = $"country \"{country.Name}\"";
            string name = file.String(country.Value, "name", entry);
            var subject = new Entity($"country/{country.Name.ToLowerInvariant()}", name, EntityKind.Country,
                file.Strings(country.Value, "alias", entry), TakesThe(name));
            string capital = file.String(country.Value, "capital", entry);
            if (capital.Length > 0) facts.Add(new Fact(subject, Relations.CapitalOf, capital, [capital], Source));

            var onContinents = file.Strings(country.Value, "continents", entry);
            if (onContinents.Count == 0) onContinents.Add(file.String(country.Value, "continent", entry));
            var continentNames = Lookup(onContinents, continents, file, entry, "continent");
            if (continentNames[0] != name) facts.Add(new Fact(subject, Relations.ContinentOf, continentNames[0], continentNames, Source));

            var currencyCodes = file.Strings(country.Value, "currency", entry);
            if (currencyCodes.Count > 0)
            {
                // The first is the country's own; the others are often funds and units of account ("WIR Franc", "US Dollar (Next day)").
                var currencyNames = Lookup(currencyCodes, currencies, file, entry, "currency");
                facts.Add(new Fact(subject, Relations.CurrencyOf, currencyNames[0], [currencyNames[0], currencyCodes[0]], Source));
            }

            var languageNames = Lookup(file.Strings(country.Value, "languages", entry), languages, file, entry, "language");
            if (languageNames.Count > 0)
            {
                string spoken = JoinList(languageNames);
                facts.Add(new Fact(subject, Relations.LanguageOf, spoken, languageNames.Count > 1 ? [spoken, .. languageNames] : languageNames, Source));
            }
        }
        return facts;
    }

    /// <summary>"the" before plural and descriptive names: the Netherlands, the United Kingdom, the Cayman Islands.</summary>
    public static bool TakesThe(string name)
    {
        string[] words = name.Split(' ');
        return PluralNames.Contains(name) || TheLastWords.Contains(words[^1]) || words[0] is "Republic" or "Democratic"
            || name.StartsWith("Isle of ", StringComparison.Ordinal);
    }

    /// <summary>"A", "A and B", "A, B and C".</summary>
    public static string JoinList(IReadOnlyList<string> items) =>
        items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];

    /// <summary>Code → name, where each entry is either the name itself or an object with a "name".</summary>
    static Dictionary<string, string> ReadNames(SourceFile file, bool named)
    {
        using var json = file.ParseJson();
        if (json.RootElement.ValueKind != JsonValueKind.Object) throw file.ErrorAt(1, "expected an object of names by code");
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            if (named) names[entry.Name] = file.String(entry.Value, "name", $"code \"{entry.Name}\"");
            else if (entry.Value.ValueKind == JsonValueKind.String) names[entry.Name] = entry.Value.GetString()!;
            else throw file.ErrorIn($"code \"{entry.Name}\"", "expected a string");
        }
        return names;
    }

    static List<string> Lookup(List<string> codes, Dictionary<string, string> names, SourceFile file, string entry, string what) =>
        codes.Select(code => names.TryGetValue(code, out string? name) ? name : throw file.ErrorIn(entry, $"unknown {what} code \"{code}\"")).ToList();
}
