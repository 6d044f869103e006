namespace LmForge.Training.Data;

/// <summary>
/// Resolves a shard specification: a .bin file, a directory (its *.bin files; for "train" without the validation
/// shards, named *_val_*.bin or val_*.bin as lmforge tokenize and llm.c name them, and for "val" only those when it
/// has any), or a file-name glob such as
/// "dir/train_*.bin". A shard of a set that lmforge tokenize did not finish (its marker exists) is refused.
/// </summary>
public static class TokenShardSet
{
    static readonly System.Text.RegularExpressions.Regex ValidationName = new("(^|_)val(_|\\.)", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public static IReadOnlyList<string> Resolve(string specification, string role)
    {
        if (string.IsNullOrWhiteSpace(specification))
            throw new InvalidDataException($"no {role} shards given: pass a .bin file, a directory of them, or a pattern like shards/{role}_*.bin");
        string[] files;
        if (File.Exists(specification)) files = [specification];
        else if (Directory.Exists(specification))
        {
            files = Directory.GetFiles(specification, "*.bin");
            if (role == "train")
                files = [.. files.Where(f => !ValidationName.IsMatch(Path.GetFileName(f)))];
            else if (role == "val" && files.Any(f => ValidationName.IsMatch(Path.GetFileName(f))))
                files = [.. files.Where(f => ValidationName.IsMatch(Path.GetFileName(f)))];
        }
        else
        {
            string directory = Path.GetDirectoryName(specification) is { Length: > 0 } d ? d : ".";
            string pattern = Path.GetFileName(specification);
            files = pattern.Contains('*', StringComparison.Ordinal) && Directory.Exists(directory) ? Directory.GetFiles(directory, pattern) : [];
        }
        if (files.Length == 0)
            throw new InvalidDataException($"{specification}: no {role} token shards found (expected a .bin file, a directory of them, or a pattern like {role}_*.bin)");
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
        {
            if (LmForge.Tokenization.Shards.TokenShardFormat.FindUnfinishedMarker(file) is { } marker)
                throw new InvalidDataException($"{file}: its shard set is unfinished ({marker} exists: lmforge tokenize was interrupted or failed); run lmforge tokenize again");
        }
        return files;
    }
}
