using LmForge.Data.Dedup;
using LmForge.Data.Knowledge;

namespace LmForge.Training.PostTraining;

/// <summary>What probing found the model to know about one question.</summary>
public enum ProbeDecision
{
    /// <summary>At least <see cref="ProbeOptions.KnownFraction"/> of the sampled answers are correct: teach it to answer.</summary>
    Known,

    /// <summary>Every sampled answer is informative and none is correct: it makes things up, so teach it to refuse.</summary>
    Unknown,

    /// <summary>Anything else (sometimes right, or some refusals): no training example unless <see cref="ProbeOptions.Mixed"/> says otherwise.</summary>
    Mixed,
}

/// <summary>What a known question's training reply is.</summary>
public enum KnownTarget
{
    /// <summary>The fact's answer sentence ("The capital of Peru is Lima."); the model's first correct answer where the question has none.</summary>
    AnswerSentence,

    /// <summary>The model's own first correct answer, as Llama 3 keeps it.</summary>
    ModelAnswer,
}

/// <summary>What a mixed question becomes.</summary>
public enum MixedTarget
{
    /// <summary>No training example (the default: the model's knowledge is unsure either way).</summary>
    None,

    /// <summary>A refusal, like an unknown question.</summary>
    Refusal,

    /// <summary>An answer, like a known question (for questions that have one).</summary>
    Answer,
}

/// <summary>How to probe: answers per question, their sampling, and the thresholds of the decisions.</summary>
public sealed record ProbeOptions
{
    /// <summary>Answers sampled per question (k).</summary>
    public int Samples { get; init; } = 5;

    public float Temperature { get; init; } = 0.7f;

    /// <summary>The longest answer in tokens.</summary>
    public int MaxTokens { get; init; } = 48;

    /// <summary>
    /// The share of correct answers that makes a question known: at least ⌈fraction × k⌉ of k; the default 0.8 is 4 of 5
    /// (k−1 of k for k = 5), and all of them for k ≤ 4.
    /// </summary>
    public double KnownFraction { get; init; } = 0.8;

    /// <summary>Seeds every sample: sample j of question q uses a seed hashed from (q's id, j), so it does not depend on the batching.</summary>
    public ulong Seed { get; init; } = 20240723;

    public KnownTarget KnownTarget { get; init; } = KnownTarget.AnswerSentence;

    public MixedTarget Mixed { get; init; } = MixedTarget.None;

    /// <summary>The least number of correct answers (of <see cref="Samples"/>) that makes a question known.</summary>
    public int CorrectToKnow => CorrectNeeded(Samples);

    /// <summary>⌈<see cref="KnownFraction"/> × samples⌉, at least 1.</summary>
    public int CorrectNeeded(int samples) => Math.Max(1, (int)Math.Ceiling(KnownFraction * samples - 1e-9));

    /// <summary>Throws ArgumentOutOfRangeException naming the setting, its value and what is allowed.</summary>
    public void Validate()
    {
        if (Samples < 1) throw new ArgumentOutOfRangeException(nameof(Samples), $"samples {Samples} is invalid; expected at least 1 answer per question");
        if (!(Temperature >= 0) || !float.IsFinite(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), $"temperature {Temperature} is invalid; expected 0 (greedy) or a positive number");
        if (MaxTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxTokens), $"max tokens {MaxTokens} is invalid; expected at least 1");
        if (!(KnownFraction > 0 && KnownFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(KnownFraction), $"known fraction {KnownFraction} is invalid; expected a share in (0, 1]");
    }
}

/// <summary>One sampled answer and its grade.</summary>
public sealed record ProbeSample(string Answer, AnswerVerdict Verdict);

/// <summary>A question, the answers sampled for it, the decision, and the training reply (null: no training example).</summary>
public sealed record ProbeResult(KnowledgeQuestion Question, IReadOnlyList<ProbeSample> Samples, ProbeDecision Decision, string? Target)
{
    public int Count(AnswerVerdict verdict) => Samples.Count(s => s.Verdict == verdict);

    /// <summary>True when the target is a refusal (the question was unknown, or mixed and refused).</summary>
    public bool TargetIsRefusal => Target is not null && KnowledgeProbe.Refusals.Contains(Target);
}

/// <summary>How far probing has come: questions with all their answers graded, and answers graded.</summary>
public readonly record struct ProbeProgress(int QuestionsDone, int Questions, int AnswersDone, int Answers);

/// <summary>
/// Knowledge probing as in "The Llama 3 Herd of Models", §4.3.6: for each question, sample k answers from the model,
/// grade each with <see cref="AnswerJudge"/>, and decide what the model knows. A question is
/// <see cref="ProbeDecision.Known"/> when at least <see cref="ProbeOptions.CorrectToKnow"/> answers are correct (target:
/// the answer); <see cref="ProbeDecision.Unknown"/> when every answer is informative and none is correct — consistently
/// informative and incorrect — (target: a refusal, one of <see cref="Refusals"/> chosen by a hash of the question's id);
/// <see cref="ProbeDecision.Mixed"/> otherwise (no target by default). A fabricated entity has no accepted answers, so
/// every informative answer about it is incorrect and it becomes unknown the same way. The results are written out for
/// audit (<see cref="ProbeFiles.WriteDecisions"/>) and as chat JSONL to fine-tune on (<see cref="ProbeFiles.WriteTrainingData"/>).
/// <code>
/// using var answers = new ChatModelAnswers(model, tokenizer, maxSequences: 64);
/// var results = new KnowledgeProbe(answers, new ProbeOptions { Samples = 5 }).Run(questions);
/// ProbeFiles.WriteDecisions("probe/decisions.jsonl", results);
/// ProbeFiles.WriteTrainingData("probe", results);   // answers.jsonl and refusals.jsonl, for lmforge sft
/// </code>
/// </summary>
public sealed class KnowledgeProbe
{
    private readonly IAnswerSource _source;
    private readonly ProbeOptions _options;

    public KnowledgeProbe(IAnswerSource source, ProbeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _options = options ?? new ProbeOptions();
        _options.Validate();
    }

    /// <summary>The refusal wordings an unknown question is taught; each reads as not attempted to <see cref="AnswerJudge"/>.</summary>
    public static IReadOnlyList<string> Refusals { get; } =
    [
        "I'm sorry, I don't know.",
        "I don't know the answer to that.",
        "Sorry, I have no information about that.",
        "I'm not sure; I don't know that.",
        "I don't know, sorry.",
    ];

    /// <summary>The refusal for a question: the same id always gets the same wording, and the wordings are spread evenly.</summary>
    public static string RefusalFor(string questionId) => Refusals[(int)(StableHash.Hash64(questionId) % (ulong)Refusals.Count)];

    /// <summary>Samples, grades and decides every question, in the order given (all their answers decode together).</summary>
    public List<ProbeResult> Run(IReadOnlyList<KnowledgeQuestion> questions, IProgress<ProbeProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(questions);
        int k = _options.Samples;
        var requests = new List<AnswerRequest>(questions.Count * k);
        foreach (var question in questions)
            for (int sample = 0; sample < k; sample++)
                requests.Add(new AnswerRequest(question.Question, sample, _options.Temperature, SampleSeed(question.Id, sample), _options.MaxTokens));

        var answers = new string?[requests.Count];
        var answered = new int[questions.Count];
        int questionsDone = 0, answersDone = 0;
        progress?.Report(new ProbeProgress(0, questions.Count, 0, requests.Count));
        foreach (var reply in _source.Answer(requests, cancellation))
        {
            if ((uint)reply.Request >= (uint)requests.Count || answers[reply.Request] is not null)
                throw new InvalidOperationException($"the answer source replied to request {reply.Request}, which is not one of the {requests.Count} asked or was answered already");
            answers[reply.Request] = reply.Text;
            answersDone++;
            if (++answered[reply.Request / k] == k) questionsDone++;
            progress?.Report(new ProbeProgress(questionsDone, questions.Count, answersDone, requests.Count));
        }
        if (answersDone != requests.Count)
            throw new InvalidOperationException($"the answer source answered {answersDone} of {requests.Count} requests");

        var results = new List<ProbeResult>(questions.Count);
        for (int q = 0; q < questions.Count; q++)
        {
            var question = questions[q];
            var samples = new ProbeSample[k];
            for (int j = 0; j < k; j++)
            {
                string answer = answers[q * k + j]!;
                samples[j] = new ProbeSample(answer, AnswerJudge.Judge(answer, question.Answers));
            }
            results.Add(Decide(question, samples, _options));
        }
        return results;
    }

    /// <summary>The decision and target for a question whose answers have been graded (see the class summary).</summary>
    public static ProbeResult Decide(KnowledgeQuestion question, IReadOnlyList<ProbeSample> samples, ProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        int correct = samples.Count(s => s.Verdict == AnswerVerdict.Correct);
        bool allInformative = samples.Count > 0 && samples.All(s => AnswerJudge.IsInformative(s.Verdict));
        var decision = correct >= options.CorrectNeeded(samples.Count) ? ProbeDecision.Known
            : allInformative && correct == 0 ? ProbeDecision.Unknown
            : ProbeDecision.Mixed;
        string? target = decision switch
        {
            ProbeDecision.Known => Answer(question, samples, options.KnownTarget),
            ProbeDecision.Unknown => RefusalFor(question.Id),
            _ => options.Mixed switch
            {
                MixedTarget.Refusal => RefusalFor(question.Id),
                MixedTarget.Answer => Answer(question, samples, options.KnownTarget),
                _ => null,
            },
        };
        return new ProbeResult(question, samples, decision, target);
    }

    // The answer to teach: the fact's sentence or the model's first correct answer, as asked, else whichever exists.
    private static string? Answer(KnowledgeQuestion question, IReadOnlyList<ProbeSample> samples, KnownTarget target)
    {
        string? model = samples.FirstOrDefault(s => s.Verdict == AnswerVerdict.Correct)?.Answer;
        return target == KnownTarget.ModelAnswer ? model ?? question.Answer : question.Answer ?? model;
    }

    private ulong SampleSeed(string questionId, int sample) => StableHash.Hash64($"{questionId}#{sample}", _options.Seed);
}
