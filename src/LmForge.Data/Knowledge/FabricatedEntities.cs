using Bogus.Bson;
using LmForge.Data.Dedup;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Makes up people, countries and chemical elements, deterministically for a seed, from the English first- and
/// last-name lists that NuGet's Bogus carries (faker's data): a person is a first and a last name ("Orson Kovacek"),
/// a country a last name with a country-like ending ("Kovacekia", "Schadenland"), an element one ending in "-ium".
/// A candidate is kept only when its distinctive word (the last name, or the whole name) is not a known word
/// (<see cref="KnownNames"/>); the i-th candidate depends only on the seed and i, so the list is stable.
/// </summary>
public static class FabricatedEntities
{
    static readonly string[] CountryEndings = ["ia", "land", "onia", "istan", "ovia"];

    static readonly Lazy<(string[] First, string[] Last)> NameLists = new(() =>
    {
        var names = (BObject)Bogus.Database.GetLocale("en")["name"];
        return (PlainNames((BArray)names["first_name"]), PlainNames((BArray)names["last_name"]));
    });

    public static List<Entity> Make(EntityKind kind, int count, ulong seed, KnownNames known)
    {
        var made = new List<Entity>(count);
        var used = new HashSet<string>(StringComparer.Ordinal);
        int tries = 1000 + 100 * count;
        for (int i = 0; made.Count < count; i++)
        {
            if (i == tries)
                throw new InvalidOperationException($"made only {made.Count} of {count} {kind} names that no source and no corpus contains: ask for fewer");
            var (name, distinctive) = Candidate(kind, StableHash.Hash64($"{kind}/{i}", seed));
            if (known.Contains(distinctive) || !used.Add(name)) continue;
            made.Add(new Entity(Entity.IdFor(kind, name), name, kind, []) { IsFabricated = true });
        }
        return made;
    }

    static (string Name, string Distinctive) Candidate(EntityKind kind, ulong hash)
    {
        var (first, last) = NameLists.Value;
        string surname = last[(int)(hash % (ulong)last.Length)];
        ulong other = hash >> 32;
        switch (kind)
        {
            case EntityKind.Person:
                return ($"{first[(int)(other % (ulong)first.Length)]} {surname}", surname);
            case EntityKind.Country:
                string country = WithEnding(surname, CountryEndings[(int)(other % (ulong)CountryEndings.Length)]);
                return (country, country);
            case EntityKind.Element:
                string element = WithEnding(surname, "ium").ToLowerInvariant();
                return (element, element);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>"Kovacek" + "ia" → "Kovacekia"; a final vowel gives way to an ending that starts with one ("Rohe" + "ia" → "Rohia").</summary>
    static string WithEnding(string root, string ending) =>
        IsVowel(root[^1]) && IsVowel(ending[0]) ? root[..^1] + ending : root + ending;

    static bool IsVowel(char c) => "aeiouy".Contains(char.ToLowerInvariant(c), StringComparison.Ordinal);

    /// <summary>The names that are one capitalised run of ASCII letters ("Kovacek", not "O'Keefe").</summary>
    static string[] PlainNames(BArray list)
    {
        var names = new List<string>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            string name = list[i].StringValue;
            if (name.Length >= 3 && char.IsAsciiLetterUpper(name[0]) && name.Skip(1).All(char.IsAsciiLetterLower)) names.Add(name);
        }
        return names.Distinct(StringComparer.Ordinal).ToArray();
    }
}
