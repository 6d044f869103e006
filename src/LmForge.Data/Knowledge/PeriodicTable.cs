using System.Globalization;
using System.Text.Json;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Facts about the chemical elements from the npm package periodic-table (ISC): each element's symbol and atomic
/// number, read from its data.json (an array of {"atomicNumber", "symbol", "name", ...}). Other fields of the package
/// are not used: its discovery years say "Ancient" for elements isolated in modern times. Element names are common
/// nouns, so they are kept in lower case ("iron"), with the British spellings as aliases.
/// </summary>
public static class PeriodicTable
{
    public const string Source = "periodic-table@0.0.8";

    public const string DataFile = "data.json";

    static readonly Dictionary<string, string> BritishSpellings = new(StringComparer.Ordinal)
    {
        ["aluminum"] = "aluminium",
        ["cesium"] = "caesium",
        ["sulfur"] = "sulphur",
    };

    public static List<Fact> Read(string dataJsonPath)
    {
        var file = new SourceFile(dataJsonPath);
        using var json = file.ParseJson();
        if (json.RootElement.ValueKind != JsonValueKind.Array) throw file.ErrorAt(1, "expected an array of elements");
        var facts = new List<Fact>();
        int index = 0;
        foreach (var element in json.RootElement.EnumerateArray())
        {
            string entry = $"element {++index}";
            string name = file.String(element, "name", entry).Trim().ToLowerInvariant();
            string symbol = file.String(element, "symbol", entry).Trim();
            int number = file.Int(element, "atomicNumber", entry);
            if (name.Length == 0 || symbol.Length == 0) throw file.ErrorIn(entry, "expected a name and a symbol");
            var subject = new Entity(Entity.IdFor(EntityKind.Element, name), name, EntityKind.Element,
                BritishSpellings.TryGetValue(name, out string? british) ? [british] : []);
            string atomicNumber = number.ToString(CultureInfo.InvariantCulture);
            facts.Add(new Fact(subject, Relations.SymbolOf, symbol, [symbol], Source));
            facts.Add(new Fact(subject, Relations.AtomicNumber, atomicNumber, [atomicNumber], Source));
        }
        return facts;
    }
}
