using System.Diagnostics;
using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Tests.Shared;
using LmForge.Tokenization.Chat;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>`lmforge knowledge build`, `probe` and `eval-knowledge` as a user runs them, and their one-line errors.</summary>
public class KnowledgeCommandTests
{
    static (int ExitCode, string Output, string Errors) Run(params string[] arguments) => TestFiles.RunTool(arguments);

    static string QuestionsFile(string directory)
    {
        string path = Path.Combine(directory, "questions.jsonl");
        KnowledgeQuestionFile.Write(path,
        [
            KnowledgeProbeTests.Question("country/pe/capital-of/q0", "What is the capital of Peru?", "Lima") with { Split = KnowledgeSplit.Trained },
            KnowledgeProbeTests.Question("country/fj/capital-of/q0", "What is the capital of Fiji?", "Suva"),
            KnowledgeProbeTests.Question("country/zarvia/capital-of/q0", "What is the capital of Zarvia?"),
        ]);
        return path;
    }

    [Fact]
    public void Knowledge_build_writes_the_world_from_the_cached_knowledge_bases()
    {
        string cache = TestFiles.KnowledgeCache(TestFiles.TemporaryDirectory("knowledge-cache")), output = Path.Combine(TestFiles.TemporaryDirectory("knowledge-world"), "world");
        var (exitCode, printed, errors) = Run("knowledge", "build", "--out", output, "--cache", cache, "--seed", "7");
        Assert.True(exitCode == 0, errors);
        Assert.Equal([KnowledgeWorld.FactsFile, KnowledgeWorld.PretrainingFile, KnowledgeWorld.QuestionsFile, KnowledgeWorld.FineTuningFile],
            Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var questions = KnowledgeQuestionFile.Read(Path.Combine(output, KnowledgeWorld.QuestionsFile));
        Assert.Equal(Enum.GetValues<KnowledgeSplit>(), questions.Select(q => q.Split).Distinct().Order());
        Assert.Equal(questions.Count(q => q.Split == KnowledgeSplit.Trained), ChatJsonl.Read(Path.Combine(output, KnowledgeWorld.FineTuningFile)).Count());
        Assert.All(File.ReadLines(Path.Combine(output, KnowledgeWorld.PretrainingFile)), line => Assert.NotEmpty(JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!));
        Assert.Contains("fabricated", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Probe_then_eval_knowledge_on_a_tiny_chat_model()
    {
        string work = TestFiles.TemporaryDirectory("knowledge-cli");
        string checkpoint = ChatCheckpoint.Create(Path.Combine(work, "model"), width: 64, layers: 2, context: 128);
        string questions = QuestionsFile(work), probe = Path.Combine(work, "probe"), eval = Path.Combine(work, "eval");

        var (exitCode, output, errors) = Run("probe", "--checkpoint", checkpoint, "--questions", questions, "--splits", "trained,held-out,fabricated",
            "--samples", "2", "--max-tokens", "4", "--batch", "3", "--out", probe);
        Assert.True(exitCode == 0, errors);
        Assert.Contains("answers/s", output, StringComparison.Ordinal);
        var decisions = File.ReadAllLines(Path.Combine(probe, ProbeFiles.DecisionsFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, decisions.Count);
        Assert.All(decisions, d => Assert.Equal(2, d.GetProperty("samples").GetArrayLength()));
        int taught = decisions.Count(d => d.GetProperty("target").ValueKind == JsonValueKind.String);
        Assert.Equal(taught, ChatJsonl.Read(Path.Combine(probe, ProbeFiles.AnswersFile)).Count() + ChatJsonl.Read(Path.Combine(probe, ProbeFiles.RefusalsFile)).Count());

        (exitCode, output, errors) = Run("eval-knowledge", "--checkpoint", checkpoint, "--questions", questions, "--known", Path.Combine(probe, ProbeFiles.DecisionsFile),
            "--max-tokens", "4", "--out", eval);
        Assert.True(exitCode == 0, errors);
        Assert.Contains("| split | questions | correct | incorrect (hallucinated) | not attempted | accuracy given attempted |", output, StringComparison.Ordinal);
        Assert.Contains("| all | 3 |", output, StringComparison.Ordinal);
        var scores = JsonDocument.Parse(File.ReadAllText(Path.Combine(eval, "eval.json"))).RootElement;
        Assert.Equal(3, scores.GetProperty("all").GetProperty("questions").GetInt32());
        Assert.Equal(3, File.ReadAllLines(Path.Combine(eval, "answers.jsonl")).Length);
    }

    [Fact]
    public void Bad_input_is_one_line()
    {
        string work = TestFiles.TemporaryDirectory("knowledge-bad");
        string questions = QuestionsFile(work);
        string missing = Path.Combine(work, "missing.jsonl");
        string bad = Path.Combine(work, "bad.jsonl");
        File.WriteAllLines(bad, [File.ReadLines(questions).First(), "{\"id\": \"x\", \"split\": "]);
        string badDecisions = Path.Combine(work, "decisions.jsonl");
        File.WriteAllLines(badDecisions, ["{\"id\": \"x\", \"decision\": \"known\"}", "{\"id\": 3}"]);

        foreach (var (arguments, expected) in new (string[], string)[]
        {
            (["probe", "--checkpoint", work, "--questions", missing], $"error: {missing}: no such questions file"),
            (["probe", "--checkpoint", work, "--questions", bad], $"error: {bad}: line 2: malformed JSON"),
            (["eval-knowledge", "--checkpoint", work, "--questions", bad], $"error: {bad}: line 2: malformed JSON"),
            (["probe", "--checkpoint", work, "--questions", questions, "--splits", "trained,someday"], "error: --splits: unknown split 'someday', expected one of trained, held_out, unseen, fabricated"),
            (["probe", "--checkpoint", work, "--questions", questions, "--splits", "unseen"], $"error: {questions}: no questions in the split(s) unseen"),
            (["probe", "--checkpoint", work, "--questions", questions, "--samples", "0"], "error: samples 0 is invalid; expected at least 1 answer per question"),
            (["probe", "--checkpoint", Path.Combine(work, "nowhere"), "--questions", questions], $"error: {Path.Combine(work, "nowhere")}: no such checkpoint or run directory"),
            (["eval-knowledge", "--checkpoint", work, "--questions", questions, "--known", badDecisions],
                $"error: {badDecisions}: line 2: expected an object with a string \"id\" and a \"decision\" of known, unknown or mixed"),
        })
        {
            var (exitCode, _, errors) = Run(arguments);
            Assert.True(exitCode == 1, $"{string.Join(' ', arguments)}: exit {exitCode}, {errors}");
            Assert.StartsWith(expected, errors, StringComparison.Ordinal);
            Assert.Single(errors.TrimEnd('\n').Split('\n'));
        }
    }
}
