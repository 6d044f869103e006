using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Saving;

namespace LmForge.Training.PostTraining;

/// <summary>
/// What a knowledge probe writes: the decisions, for a user to audit, and the training data, for <c>lmforge sft</c>.
/// Every file is written under a temporary name and renamed into place, so a file under its name is whole.
/// </summary>
public static class ProbeFiles
{
    public const string DecisionsFile = "decisions.jsonl", AnswersFile = "answers.jsonl", RefusalsFile = "refusals.jsonl";

    /// <summary>
    /// One line per question: <c>{"id", "fact", "split", "relation", "question", "answers": [accepted...],
    /// "samples": [{"answer", "verdict"}...], "correct", "incorrect", "not_attempted", "decision", "target"}</c>; a
    /// verdict is "correct", "incorrect" or "not_attempted", a decision "known", "unknown" or "mixed", and the target
    /// the training reply or null.
    /// </summary>
    public static int WriteDecisions(string path, IEnumerable<ProbeResult> results) => AtomicFile.WriteJsonLines(path, results, (json, result) =>
    {
        var question = result.Question;
        json.WriteString("id", question.Id);
        json.WriteString("fact", question.FactId);
        json.WriteString("split", question.Split.ToName());
        json.WriteString("relation", question.Relation);
        json.WriteString("question", question.Question);
        json.WriteStartArray("answers");
        foreach (string answer in question.Answers) json.WriteStringValue(answer);
        json.WriteEndArray();
        json.WriteStartArray("samples");
        foreach (var sample in result.Samples)
        {
            json.WriteStartObject();
            json.WriteString("answer", sample.Answer);
            json.WriteString("verdict", Name(sample.Verdict));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteNumber("correct", result.Count(AnswerVerdict.Correct));
        json.WriteNumber("incorrect", result.Count(AnswerVerdict.Incorrect));
        json.WriteNumber("not_attempted", result.Count(AnswerVerdict.NotAttempted));
        json.WriteString("decision", Name(result.Decision));
        json.WriteString("target", result.Target);
    });

    /// <summary>
    /// Writes the training examples as chat JSONL (<c>{"messages": [user question, assistant target]}</c>) into a
    /// directory: answers.jsonl for the questions taught an answer, refusals.jsonl for those taught a refusal; mix
    /// either into the fine-tuning conversations. Returns how many of each.
    /// </summary>
    public static (int Answers, int Refusals) WriteTrainingData(string directory, IReadOnlyList<ProbeResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var taught = results.Where(r => r.Target is not null).ToList();
        int answers = ChatJsonl.Write(Path.Combine(directory, AnswersFile), taught.Where(r => !r.TargetIsRefusal).Select(Conversation));
        int refusals = ChatJsonl.Write(Path.Combine(directory, RefusalsFile), taught.Where(r => r.TargetIsRefusal).Select(Conversation));
        return (answers, refusals);
    }

    /// <summary>
    /// The ids of the questions a decisions file (<see cref="WriteDecisions"/>) marks known: what the probed model knew,
    /// for the over-refusal rate of another. A malformed line is a one-line error naming the file and the line.
    /// </summary>
    public static HashSet<string> ReadKnownQuestionIds(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such decisions file", path);
        var known = new HashSet<string>(StringComparer.Ordinal);
        int number = 0, decisions = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: line {number}: malformed JSON ({e.Message.Split(" LineNumber:")[0].Split(" Path:")[0]})");
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                    || !root.TryGetProperty("decision", out var decision) || decision.ValueKind != JsonValueKind.String
                    || !Enum.GetValues<ProbeDecision>().Any(d => Name(d) == decision.GetString()))
                    throw new InvalidDataException($"{path}: line {number}: expected an object with a string \"id\" and a \"decision\" of known, unknown or mixed");
                if (decision.GetString() == Name(ProbeDecision.Known)) known.Add(id.GetString()!);
                decisions++;
            }
        }
        if (decisions == 0) throw new InvalidDataException($"{path}: no decisions");
        return known;
    }

    /// <summary>"correct", "incorrect", "not_attempted".</summary>
    public static string Name(AnswerVerdict verdict) => verdict switch
    {
        AnswerVerdict.Correct => "correct",
        AnswerVerdict.Incorrect => "incorrect",
        AnswerVerdict.NotAttempted => "not_attempted",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, null),
    };

    /// <summary>"known", "unknown", "mixed".</summary>
    public static string Name(ProbeDecision decision) => decision.ToString().ToLowerInvariant();

    private static IReadOnlyList<ChatMessage> Conversation(ProbeResult result) =>
        [new ChatMessage(ChatTemplate.User, result.Question.Question), new ChatMessage(ChatTemplate.Assistant, result.Target!)];
}
