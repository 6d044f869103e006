using System.Runtime.CompilerServices;
using System.Text.Json;
using LmForge.Tokenization;

namespace LmForge.Data.Recipes;

/// <summary>
/// The parameters of one recipe step (the JSON object minus "type"), read with typed getters that reject a wrong
/// type or a missing required value with a message naming the recipe file and the field, e.g.
/// <c>recipe.json: stages[0].steps[2].min_words (gopher_quality): expected an integer, got "ten"</c>.
/// Parameters never read by the step's constructor are reported as unknown (a typo must not pass silently).
/// </summary>
public sealed class StepParameters
{
    private readonly JsonElement _json;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal) { "type" };

    public StepParameters(JsonElement json, string location, string type, string baseDirectory)
    {
        if (json.ValueKind != JsonValueKind.Object) ThrowInvalid(location, "expected an object");
        _json = json;
        Location = location;
        Type = type;
        BaseDirectory = baseDirectory;
    }

    /// <summary>Builds parameters from code (a program composing a pipeline without a recipe file).</summary>
    public static StepParameters FromJson(string type, string json, string? baseDirectory = null) =>
        new(JsonDocument.Parse(json).RootElement.Clone(), "parameters", type, baseDirectory ?? Directory.GetCurrentDirectory());

    /// <summary>Where the step sits, e.g. "recipe.json: stages[0].steps[2]".</summary>
    public string Location { get; }

    public string Type { get; }

    /// <summary>Relative paths in parameters are resolved against this (the recipe file's directory).</summary>
    public string BaseDirectory { get; }

    public bool Has(string name) => _json.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public string GetString(string name) => TryGet(name, out var v) ? ReadString(name, v) : ThrowMissing<string>(name, "a string");

    public string? GetString(string name, string? defaultValue) => TryGet(name, out var v) ? ReadString(name, v) : defaultValue;

    /// <summary>A file or directory path, resolved against the recipe's directory when relative.</summary>
    public string GetPath(string name) => FullPath(GetString(name), BaseDirectory, $"{Location}.{name} ({Type})");

    public string? GetOptionalPath(string name) => Has(name) ? GetPath(name) : null;

    public int GetInt(string name, int defaultValue) => TryGet(name, out var v) ? ReadInt(name, v) : defaultValue;

    public int GetInt(string name) => TryGet(name, out var v) ? ReadInt(name, v) : ThrowMissing<int>(name, "an integer");

    public long GetLong(string name, long defaultValue)
    {
        if (!TryGet(name, out var v)) return defaultValue;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x) ? x : ThrowWrongType<long>(name, "an integer", v);
    }

    public double GetDouble(string name, double defaultValue)
    {
        if (!TryGet(name, out var v)) return defaultValue;
        if (v.ValueKind != JsonValueKind.Number) ThrowWrongType(name, "a number", v);
        return v.GetDouble();
    }

    public bool GetBool(string name, bool defaultValue)
    {
        if (!TryGet(name, out var v)) return defaultValue;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) ThrowWrongType(name, "true or false", v);
        return v.GetBoolean();
    }

    public IReadOnlyList<string> GetStrings(string name, IReadOnlyList<string>? defaultValue = null)
    {
        if (!TryGet(name, out var v)) return defaultValue ?? [];
        if (v.ValueKind != JsonValueKind.Array) ThrowWrongType(name, "an array of strings", v);
        var list = new List<string>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) ThrowWrongType(name, "an array of strings", v);
            list.Add(Text(item, $"{Location}.{name} ({Type})"));
        }
        return list;
    }

    /// <summary>Throws naming the first parameter that no getter asked for.</summary>
    public void EnsureAllRead()
    {
        foreach (var property in _json.EnumerateObject())
        {
            if (!_read.Contains(property.Name))
                throw new RecipeException($"{Location}.{property.Name} ({Type}): unknown parameter");
        }
    }

    /// <summary>Throws a recipe error about a parameter whose value is of the right type but not acceptable.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public RecipeException Invalid(string name, string expected) =>
        new($"{Location}.{name} ({Type}): {expected}");

    private bool TryGet(string name, out JsonElement value)
    {
        _read.Add(name);
        return _json.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;
    }

    private string ReadString(string name, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.String) ThrowWrongType(name, "a string", v);
        return Text(v, $"{Location}.{name} ({Type})");
    }

    private int ReadInt(string name, JsonElement v)
    {
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int x) ? x : ThrowWrongType<int>(name, "an integer", v);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private T ThrowMissing<T>(string name, string expected) =>
        throw new RecipeException($"{Location}.{name} ({Type}): missing required parameter, expected {expected}");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowWrongType(string name, string expected, JsonElement got) => ThrowWrongType<int>(name, expected, got);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private T ThrowWrongType<T>(string name, string expected, JsonElement got) =>
        throw new RecipeException($"{Location}.{name} ({Type}): expected {expected}, got {UntrustedText.Json(got)}");

    /// <summary>A recipe's path made absolute against <paramref name="baseDirectory"/>; one that no file system takes (a NUL) is a recipe error at <paramref name="where"/>.</summary>
    internal static string FullPath(string path, string baseDirectory, string where)
    {
        try
        {
            return Path.GetFullPath(path, baseDirectory);
        }
        catch (ArgumentException)
        {
            throw new RecipeException($"{where}: '{UntrustedText.Excerpt(path)}' is not a usable path");
        }
    }

    /// <summary>A JSON string's text; invalid UTF-8 or an escaped lone surrogate is a recipe error at <paramref name="where"/>.</summary>
    internal static string Text(JsonElement value, string where)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new RecipeException($"{where}: not valid text (invalid UTF-8 or a lone surrogate escape)");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowInvalid(string location, string expected) =>
        throw new RecipeException($"{location}: {expected}");
}
