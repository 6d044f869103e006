using LmForge.Data.Knowledge;
using LmForge.Models.Checkpoints;
using LmForge.Tests.Shared;
using LmForge.Tokenization.Chat;
using LmForge.Training.Checkpoints;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>Probing and the eval through a real (random) chat model: its answers are noise, but every path is taken.</summary>
public class ProbeOnModelTests
{
    static readonly KnowledgeQuestion[] Questions =
    [
        KnowledgeProbeTests.Question("country/pe/capital-of/q0", "What is the capital of Peru?", "Lima"),
        KnowledgeProbeTests.Question("country/pe/capital-of/q1", "Which city is the capital of Peru?", "Lima"),
        KnowledgeProbeTests.Question("country/fj/capital-of/q0", "What is the capital of Fiji?", "Suva"),
        KnowledgeProbeTests.Question("country/zarvia/capital-of/q0", "What is the capital of Zarvia?"),
        KnowledgeProbeTests.Question("person/orson-kovacs/known-as/q0", "Who was Orson Kovacs?"),
    ];

    [Fact]
    public void Probe_and_eval_run_through_one_batched_session()
    {
        string checkpoint = ChatCheckpoint.Create(TestFiles.TemporaryDirectory("probe-model"), width: 64, layers: 2, context: 128);
        var tokenizer = CheckpointTokenizer.Load(checkpoint);
        using var model = ModelCheckpoint.Load(checkpoint, trainable: false);
        // 4 slots for 15 answers: sequences join as others finish
        using var answers = new ChatModelAnswers(model, tokenizer, maxSequences: 4);
        Assert.True(answers.IsChatModel);

        var probe = new KnowledgeProbe(answers, new ProbeOptions { Samples = 3, MaxTokens = 6 });
        var results = probe.Run(Questions);
        Assert.Equal(Questions.Select(q => q.Id), results.Select(r => r.Question.Id));
        Assert.All(results, r => Assert.Equal(3, r.Samples.Count));
        Assert.All(results, r => Assert.Equal(3, r.Count(AnswerVerdict.Correct) + r.Count(AnswerVerdict.Incorrect) + r.Count(AnswerVerdict.NotAttempted)));
        Assert.True(results.SelectMany(r => r.Samples).Select(s => s.Answer).Distinct().Count() > 1, "different seeds should give different answers");

        // the same seeds give the same answers
        Assert.Equal(results.SelectMany(r => r.Samples).Select(s => s.Answer), probe.Run(Questions).SelectMany(r => r.Samples).Select(s => s.Answer));

        string directory = TestFiles.TemporaryDirectory("probe-files");
        Assert.Equal(Questions.Length, ProbeFiles.WriteDecisions(Path.Combine(directory, ProbeFiles.DecisionsFile), results));
        var (answered, refused) = ProbeFiles.WriteTrainingData(directory, results);
        Assert.Equal(results.Count(r => r.Target is not null), answered + refused);
        Assert.Equal(answered + refused, ChatJsonl.Read(Path.Combine(directory, ProbeFiles.AnswersFile)).Count() + ChatJsonl.Read(Path.Combine(directory, ProbeFiles.RefusalsFile)).Count());
        Assert.Equal(Questions.Length, File.ReadAllLines(Path.Combine(directory, ProbeFiles.DecisionsFile)).Length);
        Assert.Empty(Directory.GetFiles(directory, "*.tmp"));

        // the eval on the same session: one greedy answer each, grades adding up per split
        var report = HallucinationEval.Run(answers, Questions, ProbeFiles.ReadKnownQuestionIds(Path.Combine(directory, ProbeFiles.DecisionsFile)), maxTokens: 6);
        Assert.Equal(Questions.Length, report.Answers.Count);
        Assert.Equal(["held_out", "fabricated"], report.Splits.Select(s => s.Split));
        Assert.All(report.Splits.Append(report.All), s => Assert.Equal(s.Questions, s.Correct + s.Incorrect + s.NotAttempted));
        Assert.Equal(Questions.Length, report.Splits.Sum(s => s.Questions));
        Assert.Equal(0, report.Splits[1].Correct); // nothing about a made-up entity is correct
    }

    [Fact]
    public void Answers_get_the_room_the_context_leaves_and_a_question_too_long_for_it_is_a_clear_error()
    {
        string checkpoint = ChatCheckpoint.Create(TestFiles.TemporaryDirectory("probe-short-model"), width: 32, layers: 1, context: 40);
        var tokenizer = CheckpointTokenizer.Load(checkpoint);
        using var model = ModelCheckpoint.Load(checkpoint, trainable: false);
        using var answers = new ChatModelAnswers(model, tokenizer, maxSequences: 2);
        // a short question with a reply longer than the room left: answered within the context
        var replies = answers.Answer([new AnswerRequest("Hello", 0, 0f, 1, MaxTokens: 500)]).ToList();
        Assert.Single(replies);
        string question = string.Concat(Enumerable.Repeat("how are you today? ", 20));
        var e = Assert.Throws<InvalidDataException>(() => answers.Answer([new AnswerRequest(question, 0, 0f, 1, 8)]).ToList());
        Assert.Contains("leaves no room for an answer in the model's context of 40", e.Message);
    }
}
