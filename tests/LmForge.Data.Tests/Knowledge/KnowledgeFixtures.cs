using LmForge.Data.Knowledge;

namespace LmForge.Data.Tests.Knowledge;

/// <summary>The excerpts of the real packages in Knowledge/Fixtures (made by make-fixtures.sh there).</summary>
static class KnowledgeFixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Knowledge", "Fixtures");

    public static string Countries => Path.Combine(Root, "countries-list");

    public static string WordNetNouns => Path.Combine(Root, "data.noun");

    public static string Elements => Path.Combine(Root, "elements.json");

    public static KnowledgeSourceFiles Sources => new(Countries, WordNetNouns, Elements);

    /// <summary>Large enough fractions that every split has facts in the small fixture world.</summary>
    public static KnowledgeOptions Options(ulong seed = 20230828) => new()
    {
        Sources = Sources,
        Seed = seed,
        UnseenFraction = 0.3,
        HeldOutFraction = 0.3,
        FabricatedFraction = 0.3,
    };

    /// <summary>A copy of the country files in a temporary directory, with one of them changed.</summary>
    public static string CountriesWith(TempDirectory temp, string file, Func<string, string> change)
    {
        string directory = temp.File("countries-list");
        Directory.CreateDirectory(directory);
        foreach (string name in CountriesList.Files)
        {
            string text = File.ReadAllText(Path.Combine(Countries, name));
            File.WriteAllText(Path.Combine(directory, name), name == file ? change(text) : text);
        }
        return directory;
    }

    public static Fact Single(IEnumerable<Fact> facts, string subject, Relation relation) =>
        Assert.Single(facts, f => f.Subject.Name == subject && f.Relation == relation);
}
