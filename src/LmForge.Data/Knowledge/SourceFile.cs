using System.Text.Json;

namespace LmForge.Data.Knowledge;

/// <summary>
/// One knowledge-base file being read, for one-line errors that name the file and the line or entry at fault, and
/// typed access to JSON entries that says which field was missing or of the wrong type.
/// </summary>
sealed class SourceFile(string path)
{
    public string Path { get; } = path;

    public InvalidDataException ErrorAt(int line, string problem) => new($"{Path}:{line}: {problem}");

    public InvalidDataException ErrorIn(string entry, string problem) => new($"{Path}: {entry}: {problem}");

    public JsonDocument ParseJson()
    {
        byte[] bytes = ReadAllBytes();
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            // The message goes on with " LineNumber: ..." and " Path: ..."; the line is already in front.
            string problem = e.Message.Split(" LineNumber:")[0].Split(" Path:")[0];
            throw ErrorAt((int)(e.LineNumber ?? 0) + 1, "invalid JSON: " + problem);
        }
    }

    public IEnumerable<string> ReadLines() => File.Exists(Path) ? File.ReadLines(Path) : throw NotFound();

    public string String(JsonElement entry, string property, string entryName)
    {
        if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String)
            return value.GetString()!;
        throw ErrorIn(entryName, $"expected a string \"{property}\"");
    }

    public int Int(JsonElement entry, string property, string entryName)
    {
        if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(property, out var value)
            && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number))
            return number;
        throw ErrorIn(entryName, $"expected an integer \"{property}\"");
    }

    /// <summary>An array of strings, or an empty list when the property is absent.</summary>
    public List<string> Strings(JsonElement entry, string property, string entryName)
    {
        if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty(property, out var value)) return [];
        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
            return value.EnumerateArray().Select(v => v.GetString()!).ToList();
        throw ErrorIn(entryName, $"expected \"{property}\" to be an array of strings");
    }

    byte[] ReadAllBytes() => File.Exists(Path) ? File.ReadAllBytes(Path) : throw NotFound();

    FileNotFoundException NotFound() => new($"{Path}: no such file", Path);
}
