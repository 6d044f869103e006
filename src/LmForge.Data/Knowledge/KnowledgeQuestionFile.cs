using System.Text.Json;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Knowledge;

/// <summary>
/// questions.jsonl: one <see cref="KnowledgeQuestion"/> per line,
/// <c>{"id", "fact", "split", "relation", "question", "answer", "answers": [...]}</c>, as <see cref="KnowledgeWorld.Write"/>
/// writes it and the probe and the hallucination eval read it. "answer" (the answer sentence) is null for a fabricated
/// entity, whose "answers" are empty; every other question has at least one accepted answer.
/// </summary>
public static class KnowledgeQuestionFile
{
    /// <summary>Writes the questions under a temporary name and renames the file into place.</summary>
    public static int Write(string path, IEnumerable<KnowledgeQuestion> questions) => AtomicFile.WriteJsonLines(path, questions, (json, question) =>
    {
        json.WriteString("id", question.Id);
        json.WriteString("fact", question.FactId);
        json.WriteString("split", question.Split.ToName());
        json.WriteString("relation", question.Relation);
        json.WriteString("question", question.Question);
        json.WriteString("answer", question.Answer);
        json.WriteStartArray("answers");
        foreach (string answer in question.Answers) json.WriteStringValue(answer);
        json.WriteEndArray();
    });

    /// <summary>Reads every question; a malformed line is a one-line error naming the file, the line and the field.</summary>
    public static List<KnowledgeQuestion> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such questions file", path);
        var questions = new List<KnowledgeQuestion>();
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var question = Parse(line, path, number);
            if (!lines.TryAdd(question.Id, number)) throw Error(path, number, $"question id '{question.Id}' is already used on line {lines[question.Id]}");
            questions.Add(question);
        }
        if (questions.Count == 0) throw new InvalidDataException($"{path}: no questions");
        return questions;
    }

    private static KnowledgeQuestion Parse(string line, string path, int number)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw Error(path, number, $"malformed JSON ({e.Message.Split(" LineNumber:")[0].Split(" Path:")[0]})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error(path, number, "expected a JSON object");
            string String(string name) =>
                root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0
                    ? value.GetString()! : throw Error(path, number, $"expected a non-empty string \"{name}\"");
            string splitName = String("split");
            var split = KnowledgeSplitNames.TryParse(splitName) ?? throw Error(path, number, $"unknown split '{splitName}', expected one of {string.Join(", ", KnowledgeSplitNames.Names)}");
            string? answer = !root.TryGetProperty("answer", out var answerValue) || answerValue.ValueKind == JsonValueKind.Null ? null
                : answerValue.ValueKind == JsonValueKind.String ? answerValue.GetString() : throw Error(path, number, "expected \"answer\" to be a string or null");
            if (!root.TryGetProperty("answers", out var answersValue) || answersValue.ValueKind != JsonValueKind.Array
                || answersValue.EnumerateArray().Any(a => a.ValueKind != JsonValueKind.String || a.GetString()!.Trim().Length == 0))
                throw Error(path, number, "expected \"answers\" to be an array of non-empty strings");
            var answers = answersValue.EnumerateArray().Select(a => a.GetString()!).ToList();
            if (split == KnowledgeSplit.Fabricated && answers.Count > 0) throw Error(path, number, "a fabricated question has no accepted answers, but \"answers\" holds some");
            if (split != KnowledgeSplit.Fabricated && answers.Count == 0) throw Error(path, number, $"a {splitName} question needs at least one accepted answer in \"answers\"");
            return new KnowledgeQuestion(String("id"), String("fact"), split, String("relation"), String("question"), answer, answers);
        }
    }

    private static InvalidDataException Error(string path, int line, string problem) => new($"{path}: line {line}: {problem}");
}
