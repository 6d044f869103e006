using System.Text.Json;

namespace LmForge.Training.Tasks;

/// <summary>
/// A multiple-choice task: its examples' file and format, <see cref="FewShot"/> solved examples from the same file
/// before each scored one, and the <see cref="Delimiter"/> between a context and a choice (null: the format's,
/// see <see cref="MultipleChoiceFile.DefaultDelimiter"/>).
/// </summary>
public sealed record MultipleChoiceTask(string Name, string File, MultipleChoiceFormat Format, int FewShot = 0, string? Delimiter = null)
{
    public string ContinuationDelimiter => Delimiter ?? MultipleChoiceFile.DefaultDelimiter(Format);

    /// <summary>
    /// Reads a task list: {"tasks": [{"name", "file", "format": "hellaswag"|"multiple-choice", "fewshot": 0, "delimiter": " "}]};
    /// a relative file is relative to the list's folder.
    /// </summary>
    public static IReadOnlyList<MultipleChoiceTask> ReadList(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("tasks", out var tasks) || tasks.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected an object with a 'tasks' array");
            string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            var list = new List<MultipleChoiceTask>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var task in tasks.EnumerateArray())
            {
                string where = $"{path}: task {list.Count}";
                if (task.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where} is not an object");
                string name = Text(task, "name", where) ?? throw new InvalidDataException($"{where}: field 'name' is missing");
                where = $"{path}: task \"{name}\"";
                if (!names.Add(name)) throw new InvalidDataException($"{where} is listed twice");
                string file = Text(task, "file", where) ?? throw new InvalidDataException($"{where}: field 'file' is missing");
                string formatName = Text(task, "format", where) ?? throw new InvalidDataException($"{where}: field 'format' is missing");
                MultipleChoiceFormat format;
                try
                {
                    format = MultipleChoiceFile.ParseFormat(formatName);
                }
                catch (ArgumentException e)
                {
                    throw new InvalidDataException($"{where}: field 'format': {e.Message}");
                }
                int fewShot = 0;
                if (task.TryGetProperty("fewshot", out var shots) && !(shots.ValueKind == JsonValueKind.Number && shots.TryGetInt32(out fewShot) && fewShot >= 0))
                    throw new InvalidDataException($"{where}: field 'fewshot' is {shots.GetRawText()}, expected a number of examples >= 0");
                if (task.TryGetProperty("delimiter", out var delimiter) && delimiter.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{where}: field 'delimiter' is {delimiter.GetRawText()}, expected a string");
                list.Add(new MultipleChoiceTask(name, Path.Combine(folder, file), format, fewShot,
                    delimiter.ValueKind == JsonValueKind.String ? delimiter.GetString() : null));
            }
            if (list.Count == 0) throw new InvalidDataException($"{path}: the 'tasks' array is empty");
            return list;
        }
    }

    static string? Text(JsonElement task, string field, string where)
    {
        if (!task.TryGetProperty(field, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String || value.GetString()!.Length == 0)
            throw new InvalidDataException($"{where}: field '{field}' is {value.GetRawText()}, expected a non-empty string");
        return value.GetString();
    }
}
