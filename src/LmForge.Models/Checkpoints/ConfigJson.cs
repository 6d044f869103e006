using System.Globalization;
using System.Text.Json;

namespace LmForge.Models.Checkpoints;

/// <summary>Strict reading of one Hugging Face config.json: every error is one line naming the file and the field.</summary>
internal readonly struct ConfigJson(string path, JsonElement root)
{
    public string Path { get; } = path;

    public JsonElement Root { get; } = root;

    public int RequiredInt(string field)
    {
        if (!Root.TryGetProperty(field, out var value)) throw Error($"field '{field}' is missing");
        return PositiveInt(field, value);
    }

    public int? OptionalInt(string field) =>
        Root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? PositiveInt(field, value) : null;

    public double? OptionalNumber(string field)
    {
        if (!Root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !(value.GetDouble() > 0))
            throw Error($"field '{field}' is {Value(value)}, expected a positive number");
        return value.GetDouble();
    }

    public string? OptionalString(string field)
    {
        if (!Root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Error($"field '{field}' is {Value(value)}, expected a string");
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            throw Error($"field '{field}' is not valid text (invalid UTF-8 or a lone surrogate escape)");
        }
    }

    public bool? OptionalBool(string field)
    {
        if (!Root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw Error($"field '{field}' is {Value(value)}, expected true or false");
        return value.GetBoolean();
    }

    /// <summary>A setting LmForge does not implement must be absent or hold <paramref name="expected"/>.</summary>
    public void RequireBool(string field, bool expected, string why)
    {
        bool? value = OptionalBool(field);
        if (value is bool actual && actual != expected)
            throw Error($"field '{field}' is {(actual ? "true" : "false")}, expected {(expected ? "true" : "false")} ({why})");
    }

    /// <summary>A setting LmForge does not implement must be absent or null.</summary>
    public void RequireNull(string field, string why)
    {
        if (Root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null)
            throw Error($"field '{field}' is {Value(value)}, expected null ({why})");
    }

    public InvalidDataException Error(string message) => new($"{Path}: {message}");

    /// <summary>A string of the file in a message, in double quotes: one line, cut short, control characters escaped.</summary>
    public static string Quote(string text) => $"\"{LmForge.Tensors.SafeTensors.SafeTensorsText.Quote(text)[1..^1]}\"";

    /// <summary>A value of the file in a message: one line, cut short.</summary>
    public static string Value(JsonElement value) => LmForge.Tensors.SafeTensors.SafeTensorsText.Json(value);

    private int PositiveInt(string field, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number) || number < 1)
            throw Error($"field '{field}' is {Value(value)}, expected a positive integer");
        return number;
    }

    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
