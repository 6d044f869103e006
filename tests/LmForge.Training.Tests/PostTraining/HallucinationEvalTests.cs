using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

public class HallucinationEvalTests
{
    static KnowledgeQuestion Q(string id, KnowledgeSplit split, params string[] answers) =>
        new(id, id, split, "capital-of", $"Question {id}?", answers.Length == 0 ? null : answers[0], answers);

    // trained: 3 right, 1 wrong; held out: 1 right, 1 wrong, 2 refused; fabricated: 1 made up, 3 refused
    static readonly (KnowledgeQuestion Question, string Reply)[] Set =
    [
        (Q("t1", KnowledgeSplit.Trained, "Lima"), "Lima."),
        (Q("t2", KnowledgeSplit.Trained, "Suva"), "It is Suva."),
        (Q("t3", KnowledgeSplit.Trained, "Bamako"), "Bamako"),
        (Q("t4", KnowledgeSplit.Trained, "Oslo"), "Bergen"),
        (Q("h1", KnowledgeSplit.HeldOut, "Quito"), "Quito"),
        (Q("h2", KnowledgeSplit.HeldOut, "Accra"), "Kumasi"),
        (Q("h3", KnowledgeSplit.HeldOut, "Lusaka"), "I don't know."),
        (Q("h4", KnowledgeSplit.HeldOut, "Rabat"), ""),
        (Q("f1", KnowledgeSplit.Fabricated), "Zarvia City"),
        (Q("f2", KnowledgeSplit.Fabricated), "I'm sorry, I don't know."),
        (Q("f3", KnowledgeSplit.Fabricated), "No idea."),
        (Q("f4", KnowledgeSplit.Fabricated), "I don't know who that is."),
    ];

    static ScriptedAnswers Script() => new(Set.ToDictionary(s => s.Question.Question, s => new[] { s.Reply }));

    [Fact]
    public void Reports_simpleqa_rates_per_split()
    {
        var script = Script();
        var report = HallucinationEval.Run(script, Set.Select(s => s.Question).ToList());
        Assert.All(script.Requests, r => Assert.Equal((0f, 0), (r.Temperature, r.Sample))); // one greedy answer each

        Assert.Equal(["trained", "held_out", "fabricated"], report.Splits.Select(s => s.Split));
        var trained = report.Splits[0];
        Assert.Equal((4, 3, 1, 0), (trained.Questions, trained.Correct, trained.Incorrect, trained.NotAttempted));
        Assert.Equal((0.75, 0.25, 0.0, 0.75), (trained.CorrectRate, trained.IncorrectRate, trained.NotAttemptedRate, trained.AccuracyGivenAttempted));
        var heldOut = report.Splits[1];
        Assert.Equal((0.25, 0.25, 0.5, 0.5), (heldOut.CorrectRate, heldOut.IncorrectRate, heldOut.NotAttemptedRate, heldOut.AccuracyGivenAttempted));
        var fabricated = report.Splits[2];
        Assert.Equal((0.0, 0.25, 0.75, 0.0), (fabricated.CorrectRate, fabricated.IncorrectRate, fabricated.NotAttemptedRate, fabricated.AccuracyGivenAttempted));
        Assert.Equal((12, 4, 3, 5), (report.All.Questions, report.All.Correct, report.All.Incorrect, report.All.NotAttempted));
        Assert.True(double.IsNaN(report.All.OverRefusalRate));
        Assert.False(report.HasKnown);
        Assert.Equal(Set.Select(s => s.Reply), report.Answers.Select(a => a.Answer));
    }

    [Fact]
    public void Over_refusal_is_the_share_of_known_questions_refused()
    {
        // the reference model knew t1, t2, h1, h3 and h4: this one still answers t1, t2 and h1 and refuses h3 and h4
        var known = new HashSet<string> { "t1", "t2", "h1", "h3", "h4" };
        var report = HallucinationEval.Run(Script(), Set.Select(s => s.Question).ToList(), known);
        Assert.True(report.HasKnown);
        Assert.Equal((2, 0), (report.Splits[0].Known, report.Splits[0].KnownRefused));
        Assert.Equal(0.0, report.Splits[0].OverRefusalRate);
        Assert.Equal((3, 2), (report.Splits[1].Known, report.Splits[1].KnownRefused));
        Assert.Equal(2.0 / 3, report.Splits[1].OverRefusalRate, 12);
        Assert.True(double.IsNaN(report.Splits[2].OverRefusalRate));
        Assert.Equal(0.4, report.All.OverRefusalRate, 12);
    }

    [Fact]
    public void Prints_a_markdown_table_and_writes_json()
    {
        var report = HallucinationEval.Run(Script(), Set.Select(s => s.Question).ToList(), new HashSet<string> { "h3" });
        string[] table = report.ToMarkdown().TrimEnd('\n').Split('\n');
        Assert.Equal(
        [
            "| split | questions | correct | incorrect (hallucinated) | not attempted | accuracy given attempted | over-refusal (of known) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            "| trained | 4 | 75.0% | 25.0% | 0.0% | 75.0% | - (0/0) |",
            "| held_out | 4 | 25.0% | 25.0% | 50.0% | 50.0% | 100.0% (1/1) |",
            "| fabricated | 4 | 0.0% | 25.0% | 75.0% | 0.0% | - (0/0) |",
            "| all | 12 | 33.3% | 25.0% | 41.7% | 57.1% | 100.0% (1/1) |",
        ], table);

        string directory = TestFiles.TemporaryDirectory("eval");
        report.WriteJson(Path.Combine(directory, "eval.json"));
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "eval.json"))).RootElement;
        var heldOut = json.GetProperty("splits")[1];
        Assert.Equal("held_out", heldOut.GetProperty("split").GetString());
        Assert.Equal(0.25, heldOut.GetProperty("incorrect_rate").GetDouble());
        Assert.Equal(1.0, heldOut.GetProperty("over_refusal_rate").GetDouble());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("splits")[0].GetProperty("over_refusal_rate").ValueKind);
        Assert.Equal(12, json.GetProperty("all").GetProperty("questions").GetInt32());

        Assert.Equal(12, report.WriteAnswers(Path.Combine(directory, "answers.jsonl")));
        var first = JsonDocument.Parse(File.ReadLines(Path.Combine(directory, "answers.jsonl")).First()).RootElement;
        Assert.Equal(("t1", "Lima.", "correct"), (first.GetProperty("id").GetString(), first.GetProperty("answer").GetString(), first.GetProperty("verdict").GetString()));
    }

    [Fact]
    public void Without_known_questions_the_table_has_no_over_refusal_column()
    {
        string table = HallucinationEval.Run(Script(), Set.Select(s => s.Question).ToList()).ToMarkdown();
        Assert.DoesNotContain("over-refusal", table, StringComparison.Ordinal);
        Assert.All(table.TrimEnd('\n').Split('\n'), line => Assert.Equal(7, line.Count(c => c == '|')));
    }
}
