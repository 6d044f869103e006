namespace LmForge.Tokenization;

/// <summary>
/// OpenAI's encodings by name (gpt2, cl100k_base, o200k_base) and where their rank files are looked for: the directory
/// <c>$LMFORGE_TIKTOKEN_DIR</c>, else <c>$XDG_CACHE_HOME/lmforge/tiktoken</c> (<c>~/.cache/lmforge/tiktoken</c>), holding
/// <c>gpt2.tiktoken</c>, <c>cl100k_base.tiktoken</c>, <c>o200k_base.tiktoken</c> (tiktoken's published files, or
/// <c>lmforge tokenizer fetch-encodings</c>, from the npm package tiktoken).
/// </summary>
public static class KnownEncodings
{
    /// <summary>The names, in order of age.</summary>
    public static IReadOnlyList<string> Names { get; } = ["gpt2", "cl100k_base", "o200k_base"];

    public static bool IsKnown(string name) => Names.Contains(name);

    /// <summary>Where the rank files are looked for when no directory is given.</summary>
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable("LMFORGE_TIKTOKEN_DIR") is { Length: > 0 } stated) return stated;
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "lmforge", "tiktoken");
    }

    /// <summary>The rank file of <paramref name="name"/> in <paramref name="directory"/> (default: <see cref="DefaultDirectory"/>), or null when it is not there.</summary>
    public static string? Find(string name, string? directory = null)
    {
        if (!IsKnown(name)) throw new ArgumentException($"'{name}' is not a known encoding (expected {string.Join(", ", Names)})", nameof(name));
        string path = Path.Combine(directory ?? DefaultDirectory(), name + ".tiktoken");
        return File.Exists(path) ? path : null;
    }

    /// <summary>The encodings whose rank files are in <paramref name="directory"/> (default: <see cref="DefaultDirectory"/>).</summary>
    public static IReadOnlyList<string> Available(string? directory = null) => [.. Names.Where(n => Find(n, directory) is not null)];

    /// <summary>Loads an encoding by name from its rank file.</summary>
    /// <exception cref="FileNotFoundException">The rank file is not in the directory (the message says where it was looked for and how to get it).</exception>
    public static BpeTokenizer Load(string name, string? directory = null)
    {
        string folder = directory ?? DefaultDirectory();
        string path = Find(name, folder) ?? throw new FileNotFoundException(
            $"{name}: no rank file {Path.Combine(folder, name + ".tiktoken")} (fetch it with `lmforge tokenizer fetch-encodings`, put tiktoken's {name}.tiktoken there yourself, or set LMFORGE_TIKTOKEN_DIR)",
            Path.Combine(folder, name + ".tiktoken"));
        return FromRankFile(name, path);
    }

    /// <summary>Loads an encoding from a rank file at any path, with the split pattern and special tokens of <paramref name="name"/>.</summary>
    public static BpeTokenizer FromRankFile(string name, string path) => name switch
    {
        "gpt2" => BpeTokenizer.Gpt2(path),
        "cl100k_base" => BpeTokenizer.Cl100k(path),
        "o200k_base" => BpeTokenizer.O200k(path),
        _ => throw new ArgumentException($"'{name}' is not a known encoding (expected {string.Join(", ", Names)})", nameof(name)),
    };
}
