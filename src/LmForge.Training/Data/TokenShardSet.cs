namespace LmForge.Training.Data;

/// <summary>Resolves a shard specification: a .bin file, a directory (all its *.bin files), or a file-name glob such as "dir/train_*.bin".</summary>
public static class TokenShardSet
{
    public static IReadOnlyList<string> Resolve(string specification, string role)
    {
        if (string.IsNullOrWhiteSpace(specification))
            throw new InvalidDataException($"no {role} shards given: pass a .bin file, a directory of them, or a pattern like shards/{role}_*.bin");
        string[] files;
        if (File.Exists(specification)) files = [specification];
        else if (Directory.Exists(specification)) files = Directory.GetFiles(specification, "*.bin");
        else
        {
            string directory = Path.GetDirectoryName(specification) is { Length: > 0 } d ? d : ".";
            string pattern = Path.GetFileName(specification);
            files = pattern.Contains('*', StringComparison.Ordinal) && Directory.Exists(directory) ? Directory.GetFiles(directory, pattern) : [];
        }
        if (files.Length == 0)
            throw new InvalidDataException($"{specification}: no {role} token shards found (expected a .bin file, a directory of them, or a pattern like {role}_*.bin)");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}
