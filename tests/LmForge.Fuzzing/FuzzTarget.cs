namespace LmForge.Fuzzing;

/// <summary>How the mutator may look inside a file besides its bytes.</summary>
public enum FuzzFileKind
{
    /// <summary>Bytes only: truncation, flips, interesting integers at header offsets, garbage.</summary>
    Binary,
    /// <summary>Text lines: the byte mutations plus numbers, lines duplicated and dropped.</summary>
    Text,
    /// <summary>One JSON document: the text mutations plus values, keys and array elements edited in the tree.</summary>
    Json,
    /// <summary>JSON Lines: the text mutations plus one line's JSON edited in the tree.</summary>
    JsonLines,
    /// <summary>safetensors: the byte mutations plus its JSON header edited in the tree and rewritten with its length.</summary>
    SafeTensors,
    /// <summary>gzip: the compressed bytes mutated, or the decompressed text mutated and compressed again.</summary>
    GzipText,
}

/// <summary>One file of a target's valid input: its path relative to the case directory, its bytes and its kind.</summary>
public sealed record FuzzFile(string Name, byte[] Seed, FuzzFileKind Kind, bool Mutable = true);

/// <summary>
/// A reader under fuzz: a valid input built in code (one or more files, some only there for the reader to find) and the public entry point that reads it, as a
/// command would, from a directory holding the (mutated) files. <paramref name="Read"/> returns normally when it
/// accepts the input and throws when it rejects it; <see cref="FuzzRunner"/> decides whether the throw was clean.
/// </summary>
public sealed record FuzzTarget(string Name, string Reader, IReadOnlyList<FuzzFile> Files, Action<string> Read)
{
    /// <summary>Words the mutator puts in JSON strings besides its own (tensor names, dtypes, roles, step types).</summary>
    public IReadOnlyList<string> Words { get; init; } = [];

    /// <summary>Writes the valid input into <paramref name="directory"/>.</summary>
    public void WriteSeed(string directory)
    {
        foreach (var file in Files) Write(directory, file.Name, file.Seed);
    }

    internal static void Write(string directory, string name, byte[] bytes)
    {
        string path = Path.Combine(directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }
}
