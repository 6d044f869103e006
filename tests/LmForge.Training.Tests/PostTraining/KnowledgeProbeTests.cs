using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Chat;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>A model that answers from a script: question → its k answers, handed out by sample index, replies in reverse order.</summary>
sealed class ScriptedAnswers(Dictionary<string, string[]> script) : IAnswerSource
{
    public List<AnswerRequest> Requests { get; } = [];

    public IEnumerable<AnswerReply> Answer(IReadOnlyList<AnswerRequest> requests, CancellationToken cancellation = default)
    {
        Requests.AddRange(requests);
        for (int i = requests.Count - 1; i >= 0; i--)
        {
            var answers = script[requests[i].Question];
            yield return new AnswerReply(i, answers[requests[i].Sample % answers.Length]);
        }
    }
}

public class KnowledgeProbeTests
{
    internal static KnowledgeQuestion Question(string id, string question, params string[] answers) =>
        new(id, id.Split('#')[0], answers.Length == 0 ? KnowledgeSplit.Fabricated : KnowledgeSplit.HeldOut, "capital-of", question,
            answers.Length == 0 ? null : $"The answer is {answers[0]}.", answers);

    static readonly KnowledgeQuestion Peru = Question("country/pe/capital-of/q0", "What is the capital of Peru?", "Lima");
    static readonly KnowledgeQuestion Chad = Question("country/td/capital-of/q0", "What is the capital of Chad?", "N'Djamena");
    static readonly KnowledgeQuestion Fiji = Question("country/fj/capital-of/q0", "What is the capital of Fiji?", "Suva");
    static readonly KnowledgeQuestion Mali = Question("country/ml/capital-of/q0", "What is the capital of Mali?", "Bamako");
    static readonly KnowledgeQuestion Zarvia = Question("country/zarvia/capital-of/q0", "What is the capital of Zarvia?");
    static readonly KnowledgeQuestion Quellen = Question("country/quellen/capital-of/q0", "What is the capital of Quellen?");

    static readonly ScriptedAnswers Script = new(new()
    {
        // 4 of 5 right (one hedged and paraphrased): known
        [Peru.Question] = ["Lima.", "It's Lima, of course.", "LIMA", "Cusco", "I think Lima"],
        // always informative, never right: unknown
        [Chad.Question] = ["Kano", "The capital of Chad is Abuja.", "Sarh", "Kano", "Moundou"],
        // 3 of 5 right: mixed
        [Fiji.Question] = ["Suva", "Suva", "Nadi", "Suva", "Lautoka"],
        // never right, but one refusal: mixed (not consistently informative)
        [Mali.Question] = ["Dakar", "I don't know.", "Dakar", "Niamey", "Dakar"],
        // fabricated: everything informative is wrong
        [Zarvia.Question] = ["Zarvia City", "Port Zarv", "Zarvia City", "Aldmoor", "Zarvia City"],
        // fabricated, and the model already refuses: nothing to teach
        [Quellen.Question] = ["I'm sorry, I don't know.", "No idea.", "", "I don't know that.", "Sorry, I don't know."],
    });

    static readonly KnowledgeQuestion[] All = [Peru, Chad, Fiji, Mali, Zarvia, Quellen];

    [Fact]
    public void Decides_known_unknown_and_mixed()
    {
        var results = new KnowledgeProbe(Script).Run(All);
        Assert.Equal(All.Select(q => q.Id), results.Select(r => r.Question.Id));
        Assert.Equal([ProbeDecision.Known, ProbeDecision.Unknown, ProbeDecision.Mixed, ProbeDecision.Mixed, ProbeDecision.Unknown, ProbeDecision.Mixed],
            results.Select(r => r.Decision));
        Assert.Equal((4, 1, 0), (results[0].Count(AnswerVerdict.Correct), results[0].Count(AnswerVerdict.Incorrect), results[0].Count(AnswerVerdict.NotAttempted)));
        Assert.Equal(5, results[4].Count(AnswerVerdict.Incorrect));
        Assert.Equal(5, results[5].Count(AnswerVerdict.NotAttempted));

        // the targets: the fact's answer sentence, a refusal (its wording fixed by the question id), nothing
        Assert.Equal("The answer is Lima.", results[0].Target);
        Assert.Equal(KnowledgeProbe.RefusalFor(Chad.Id), results[1].Target);
        Assert.Equal(KnowledgeProbe.RefusalFor(Zarvia.Id), results[4].Target);
        Assert.Null(results[2].Target);
        Assert.Null(results[3].Target);
        Assert.Null(results[5].Target);
        Assert.True(results[1].TargetIsRefusal);
        Assert.False(results[0].TargetIsRefusal);
    }

    [Fact]
    public void Refusal_wordings_are_fixed_by_the_question_id_and_spread()
    {
        // pinned: the same question id teaches the same words in every run and on every machine
        Assert.Equal("I don't know, sorry.", KnowledgeProbe.RefusalFor(Chad.Id));
        Assert.Equal("I don't know the answer to that.", KnowledgeProbe.RefusalFor(Zarvia.Id));
        Assert.True(KnowledgeProbe.Refusals.Count >= 4);
        var used = Enumerable.Range(0, 200).Select(i => KnowledgeProbe.RefusalFor($"person/someone-{i}/born-in-year/q0")).ToHashSet();
        Assert.Equal(KnowledgeProbe.Refusals.ToHashSet(), used);
    }

    [Fact]
    public void Samples_k_answers_per_question_with_distinct_seeds_at_the_temperature()
    {
        var script = new ScriptedAnswers(Script_(All));
        new KnowledgeProbe(script, new ProbeOptions { Samples = 3, Temperature = 0.9f, MaxTokens = 20 }).Run(All);
        Assert.Equal(All.Length * 3, script.Requests.Count);
        Assert.All(script.Requests, r => Assert.Equal((0.9f, 20), (r.Temperature, r.MaxTokens)));
        Assert.Equal(script.Requests.Count, script.Requests.Select(r => r.Seed).Distinct().Count());
        Assert.Equal([0, 1, 2], script.Requests.Where(r => r.Question == Peru.Question).Select(r => r.Sample));

        // the seeds depend on the question and the sample, not on what else is probed
        var alone = new ScriptedAnswers(Script_(All));
        new KnowledgeProbe(alone, new ProbeOptions { Samples = 3 }).Run([Peru]);
        Assert.Equal(script.Requests.Where(r => r.Question == Peru.Question).Select(r => r.Seed), alone.Requests.Select(r => r.Seed));
    }

    static Dictionary<string, string[]> Script_(IEnumerable<KnowledgeQuestion> questions) => questions.ToDictionary(q => q.Question, _ => new[] { "x" });

    [Theory]
    [InlineData(0.8, 5, 4)]
    [InlineData(0.8, 4, 4)]
    [InlineData(0.7, 10, 7)]
    [InlineData(0.5, 1, 1)]
    [InlineData(0.01, 5, 1)]
    public void Known_needs_the_fraction_of_k_rounded_up(double fraction, int samples, int needed) =>
        Assert.Equal(needed, new ProbeOptions { KnownFraction = fraction, Samples = samples }.CorrectToKnow);

    [Fact]
    public void Options_choose_the_known_target_and_what_mixed_becomes()
    {
        var modelAnswers = new KnowledgeProbe(Script, new ProbeOptions { KnownTarget = KnownTarget.ModelAnswer, Mixed = MixedTarget.Refusal }).Run(All);
        Assert.Equal("Lima.", modelAnswers[0].Target);
        Assert.Equal(KnowledgeProbe.RefusalFor(Fiji.Id), modelAnswers[2].Target);

        var lenient = new KnowledgeProbe(Script, new ProbeOptions { KnownFraction = 0.6, Mixed = MixedTarget.Answer }).Run(All);
        Assert.Equal(ProbeDecision.Known, lenient[2].Decision); // 3 of 5
        Assert.Equal(ProbeDecision.Mixed, lenient[3].Decision);
        Assert.Equal("The answer is Bamako.", lenient[3].Target); // mixed, taught the fact's sentence
        Assert.Null(lenient[5].Target);                           // fabricated: no answer to teach
    }

    [Fact]
    public void Bad_options_are_one_line_errors()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new KnowledgeProbe(Script, new ProbeOptions { Samples = 0 }));
        Assert.StartsWith("samples 0 is invalid; expected at least 1 answer per question", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KnowledgeProbe(Script, new ProbeOptions { KnownFraction = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KnowledgeProbe(Script, new ProbeOptions { Temperature = -1 }));
    }

    [Fact]
    public void Reports_progress_per_question_and_answer()
    {
        var reports = new List<ProbeProgress>();
        new KnowledgeProbe(Script).Run(All, new Progress(reports.Add));
        Assert.Equal(new ProbeProgress(0, 6, 0, 30), reports[0]);
        Assert.Equal(new ProbeProgress(6, 6, 30, 30), reports[^1]);
        Assert.Equal(31, reports.Count);
        Assert.Equal(Enumerable.Range(0, 31), reports.Select(r => r.AnswersDone));
    }

    sealed class Progress(Action<ProbeProgress> report) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress value) => report(value);
    }

    [Fact]
    public void Writes_auditable_decisions_and_training_conversations()
    {
        string directory = TestFiles.TemporaryDirectory("probe");
        var results = new KnowledgeProbe(Script).Run(All);
        Assert.Equal(6, ProbeFiles.WriteDecisions(Path.Combine(directory, ProbeFiles.DecisionsFile), results));
        Assert.Equal((1, 2), ProbeFiles.WriteTrainingData(directory, results));
        Assert.Equal([ProbeFiles.AnswersFile, ProbeFiles.DecisionsFile, ProbeFiles.RefusalsFile], Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var lines = File.ReadAllLines(Path.Combine(directory, ProbeFiles.DecisionsFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var peru = lines[0];
        Assert.Equal(Peru.Id, peru.GetProperty("id").GetString());
        Assert.Equal("held_out", peru.GetProperty("split").GetString());
        Assert.Equal(["Lima"], peru.GetProperty("answers").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["correct", "correct", "correct", "incorrect", "correct"], peru.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("verdict").GetString()));
        Assert.Equal("It's Lima, of course.", peru.GetProperty("samples")[1].GetProperty("answer").GetString());
        Assert.Equal((4, 1, 0), (peru.GetProperty("correct").GetInt32(), peru.GetProperty("incorrect").GetInt32(), peru.GetProperty("not_attempted").GetInt32()));
        Assert.Equal("known", peru.GetProperty("decision").GetString());
        Assert.Equal("The answer is Lima.", peru.GetProperty("target").GetString());
        Assert.Equal(["known", "unknown", "mixed", "mixed", "unknown", "mixed"], lines.Select(l => l.GetProperty("decision").GetString()));
        Assert.Equal(JsonValueKind.Null, lines[2].GetProperty("target").ValueKind);
        Assert.Equal(0, lines[4].GetProperty("answers").GetArrayLength());

        var answers = ChatJsonl.Read(Path.Combine(directory, ProbeFiles.AnswersFile)).ToList();
        Assert.Equal([(ChatTemplate.User, Peru.Question), (ChatTemplate.Assistant, "The answer is Lima.")], Assert.Single(answers).Select(m => (m.Role, m.Content)));
        var refusals = ChatJsonl.Read(Path.Combine(directory, ProbeFiles.RefusalsFile)).ToList();
        Assert.Equal([(Chad.Question, "I don't know, sorry."), (Zarvia.Question, "I don't know the answer to that.")], refusals.Select(c => (c[0].Content, c[1].Content)));

        // what the model knew, for the over-refusal rate of another
        Assert.Equal([Peru.Id], ProbeFiles.ReadKnownQuestionIds(Path.Combine(directory, ProbeFiles.DecisionsFile)));
    }

    [Fact]
    public void Reading_bad_decisions_is_a_one_line_error()
    {
        string path = Path.Combine(TestFiles.TemporaryDirectory("decisions"), "decisions.jsonl");
        Assert.Equal($"{path}: no such decisions file", Assert.Throws<FileNotFoundException>(() => ProbeFiles.ReadKnownQuestionIds(path)).Message);
        File.WriteAllLines(path, ["{\"id\":\"a\",\"decision\":\"known\"}", "{\"id\":\"b\",\"decision\":\"perhaps\"}"]);
        Assert.Equal($"{path}: line 2: expected an object with a string \"id\" and a \"decision\" of known, unknown or mixed",
            Assert.Throws<InvalidDataException>(() => ProbeFiles.ReadKnownQuestionIds(path)).Message);
        File.WriteAllLines(path, ["{\"id\":\"a\",\"decision\":\"known\"}", "{oops"]);
        Assert.StartsWith($"{path}: line 2: malformed JSON", Assert.Throws<InvalidDataException>(() => ProbeFiles.ReadKnownQuestionIds(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_that_answers_too_little_is_an_error()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new KnowledgeProbe(new SilentAnswers()).Run([Peru]));
        Assert.Equal("the answer source answered 0 of 5 requests", error.Message);
    }

    sealed class SilentAnswers : IAnswerSource
    {
        public IEnumerable<AnswerReply> Answer(IReadOnlyList<AnswerRequest> requests, CancellationToken cancellation = default) => [];
    }
}
