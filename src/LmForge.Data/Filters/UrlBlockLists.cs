using LmForge.Data.Recipes;

namespace LmForge.Data.Filters;

/// <summary>
/// The lists a <see cref="UrlFilter"/> checks, each a set of lower-case entries. Files hold one entry per line;
/// blank lines and lines starting with '#' are ignored (the format of the UT1 and similar block lists).
/// </summary>
public sealed class UrlBlockLists
{
    /// <summary>Domains blocked with all their subdomains ("example.com" blocks "a.b.example.com").</summary>
    public HashSet<string> Domains { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Host names blocked exactly ("ads.example.com" blocks only that host).</summary>
    public HashSet<string> Subdomains { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Whole URLs blocked exactly (compared without the fragment and trailing slash).</summary>
    public HashSet<string> Urls { get; init; } = new(StringComparer.Ordinal);

    /// <summary>One of these among the URL's words removes the page.</summary>
    public HashSet<string> BannedWords { get; init; } = new(StringComparer.Ordinal);

    /// <summary>SoftWordThreshold or more of these among the URL's words remove the page.</summary>
    public HashSet<string> SoftBannedWords { get; init; } = new(StringComparer.Ordinal);

    public int SoftWordThreshold { get; init; } = 2;

    /// <summary>Found anywhere inside the URL once lower-cased and stripped of everything but letters and digits.</summary>
    public List<string> BannedSubwords { get; init; } = [];

    public static HashSet<string> ReadList(string path)
    {
        var entries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            var entry = line.Trim();
            if (entry.Length == 0 || entry[0] == '#') continue;
            entries.Add(entry.ToLowerInvariant());
        }
        return entries;
    }

    /// <summary>Reads "{name}_file" (a path) and "{name}" (an inline array) of a recipe step into one set.</summary>
    internal static HashSet<string> FromParameters(StepParameters parameters, string name)
    {
        var set = new HashSet<string>(parameters.GetStrings(name).Select(s => s.Trim().ToLowerInvariant()), StringComparer.Ordinal);
        if (parameters.GetOptionalPath(name + "_file") is { } path)
        {
            if (!File.Exists(path)) throw parameters.Invalid(name + "_file", $"file '{path}' does not exist");
            set.UnionWith(ReadList(path));
        }
        return set;
    }
}
