using System.Globalization;
using System.Text.Json;

namespace LmForge.Training.Tasks;

/// <summary>
/// One multiple-choice question: a context, its candidate continuations and the index of the right one. A choice is
/// scored as the text that follows the context after the task's delimiter (HellaSwag's choices already start with
/// the space that separates them from the context).
/// </summary>
public sealed record MultipleChoiceExample(string Context, IReadOnlyList<string> Choices, int Answer);

/// <summary>The file formats of multiple-choice examples.</summary>
public enum MultipleChoiceFormat
{
    /// <summary>HellaSwag's official JSONL: "ctx", "endings" (4) and "label"; each choice is " " + its ending.</summary>
    HellaSwag,

    /// <summary>Ours, one example per line: {"context": "...", "choices": ["...", ...], "answer": 0} (an optional "id").</summary>
    MultipleChoice,
}

/// <summary>Reads multiple-choice JSONL files; bad input is a one-line error naming the file and the line.</summary>
public static class MultipleChoiceFile
{
    /// <summary>The format's name in task lists and on the command line ("hellaswag", "multiple-choice").</summary>
    public static string Name(MultipleChoiceFormat format) => format == MultipleChoiceFormat.HellaSwag ? "hellaswag" : "multiple-choice";

    public static MultipleChoiceFormat ParseFormat(string name) => name switch
    {
        "hellaswag" => MultipleChoiceFormat.HellaSwag,
        "multiple-choice" => MultipleChoiceFormat.MultipleChoice,
        _ => throw new ArgumentException($"format \"{name}\" is unknown; expected \"hellaswag\" or \"multiple-choice\""),
    };

    /// <summary>The delimiter between context and choice when a task names none: HellaSwag's choices carry their space, ours get one.</summary>
    public static string DefaultDelimiter(MultipleChoiceFormat format) => format == MultipleChoiceFormat.HellaSwag ? "" : " ";

    public static IReadOnlyList<MultipleChoiceExample> Read(string path, MultipleChoiceFormat format)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        var examples = new List<MultipleChoiceExample>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{path}:{number}";
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                throw new InvalidDataException($"{where}: not a JSON object");
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: not a JSON object");
                examples.Add(format == MultipleChoiceFormat.HellaSwag ? ReadHellaSwag(document.RootElement, where) : ReadOurs(document.RootElement, where));
            }
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no examples");
        return examples;
    }

    static MultipleChoiceExample ReadHellaSwag(JsonElement root, string where)
    {
        string context = String(root, "ctx", where);
        var endings = Strings(root, "endings", where);
        if (endings.Length != 4) throw new InvalidDataException($"{where}: field 'endings' has {endings.Length} entries, expected 4");
        int label = Index(root, "label", endings.Length, where);
        return new MultipleChoiceExample(context, endings.Select(e => " " + e).ToArray(), label);
    }

    static MultipleChoiceExample ReadOurs(JsonElement root, string where)
    {
        string context = String(root, "context", where);
        var choices = Strings(root, "choices", where);
        if (choices.Length < 2) throw new InvalidDataException($"{where}: field 'choices' has {choices.Length} entries, expected at least 2");
        return new MultipleChoiceExample(context, choices, Index(root, "answer", choices.Length, where));
    }

    static string String(JsonElement root, string field, string where)
    {
        if (!root.TryGetProperty(field, out var value)) throw new InvalidDataException($"{where}: field '{field}' is missing");
        if (value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}: field '{field}' is {value.ValueKind.ToString().ToLowerInvariant()}, expected a string");
        string text = value.GetString()!;
        if (text.Length == 0) throw new InvalidDataException($"{where}: field '{field}' is empty");
        return text;
    }

    static string[] Strings(JsonElement root, string field, string where)
    {
        if (!root.TryGetProperty(field, out var value)) throw new InvalidDataException($"{where}: field '{field}' is missing");
        if (value.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{where}: field '{field}' is {value.ValueKind.ToString().ToLowerInvariant()}, expected an array of strings");
        var items = new string[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}: field '{field}' entry {i} is {item.ValueKind.ToString().ToLowerInvariant()}, expected a string");
            items[i] = item.GetString()!;
            if (items[i].Length == 0) throw new InvalidDataException($"{where}: field '{field}' entry {i} is empty");
            i++;
        }
        return items;
    }

    // an integer in [0, count); HellaSwag's label is sometimes written as a string ("2")
    static int Index(JsonElement root, string field, int count, string where)
    {
        if (!root.TryGetProperty(field, out var value)) throw new InvalidDataException($"{where}: field '{field}' is missing");
        bool ok = value.ValueKind == JsonValueKind.Number ? value.TryGetInt32(out int index)
            : int.TryParse(value.ValueKind == JsonValueKind.String ? value.GetString() : null, NumberStyles.None, CultureInfo.InvariantCulture, out index);
        if (!ok || index < 0 || index >= count)
            throw new InvalidDataException($"{where}: field '{field}' is {value.GetRawText()}, expected an index of the {count} choices (0 to {count - 1})");
        return index;
    }
}
