using System.Globalization;
using System.Text;
using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Saving;

namespace LmForge.Training.PostTraining;

/// <summary>One graded answer of the eval.</summary>
public sealed record EvaluatedAnswer(KnowledgeQuestion Question, string Answer, AnswerVerdict Verdict);

/// <summary>
/// The grades of one split's answers, as SimpleQA reports them, and the over-refusal rate: among the questions a
/// reference model knew (<see cref="Known"/>), the share this model refused (<see cref="KnownRefused"/>).
/// </summary>
public sealed record SplitScore(string Split, int Questions, int Correct, int Incorrect, int NotAttempted, int Known, int KnownRefused)
{
    public double CorrectRate => Rate(Correct, Questions);

    /// <summary>The share of answers that are hallucinations.</summary>
    public double IncorrectRate => Rate(Incorrect, Questions);

    public double NotAttemptedRate => Rate(NotAttempted, Questions);

    /// <summary>correct / (correct + incorrect); NaN when nothing was attempted.</summary>
    public double AccuracyGivenAttempted => Rate(Correct, Correct + Incorrect);

    /// <summary>Refused / known; NaN when no question of the split was known.</summary>
    public double OverRefusalRate => Rate(KnownRefused, Known);

    private static double Rate(int part, int whole) => whole == 0 ? double.NaN : (double)part / whole;
}

/// <summary>
/// The scores per split (in split order, only splits that have questions) and over all questions, with every answer for
/// audit. <see cref="ToMarkdown"/> is the table to print; <see cref="WriteJson"/> the result to keep.
/// </summary>
public sealed class HallucinationReport
{
    internal HallucinationReport(IReadOnlyList<SplitScore> splits, SplitScore all, IReadOnlyList<EvaluatedAnswer> answers, bool hasKnown)
    {
        Splits = splits;
        All = all;
        Answers = answers;
        HasKnown = hasKnown;
    }

    public IReadOnlyList<SplitScore> Splits { get; }

    /// <summary>Every question together.</summary>
    public SplitScore All { get; }

    public IReadOnlyList<EvaluatedAnswer> Answers { get; }

    /// <summary>Whether known questions were given, so that the over-refusal rate means something.</summary>
    public bool HasKnown { get; }

    /// <summary>A markdown table: a row per split and one for all, percentages with one decimal, "-" where a rate is undefined.</summary>
    public string ToMarkdown()
    {
        var table = new StringBuilder();
        table.Append("| split | questions | correct | incorrect (hallucinated) | not attempted | accuracy given attempted |");
        table.Append(HasKnown ? " over-refusal (of known) |\n" : "\n");
        table.Append("|---|---:|---:|---:|---:|---:|");
        table.Append(HasKnown ? "---:|\n" : "\n");
        foreach (var score in Splits.Append(All))
        {
            table.Append(CultureInfo.InvariantCulture,
                $"| {score.Split} | {score.Questions} | {Percent(score.CorrectRate)} | {Percent(score.IncorrectRate)} | {Percent(score.NotAttemptedRate)} | {Percent(score.AccuracyGivenAttempted)} |");
            table.Append(HasKnown ? string.Create(CultureInfo.InvariantCulture, $" {Percent(score.OverRefusalRate)} ({score.KnownRefused}/{score.Known}) |\n") : "\n");
        }
        return table.ToString();
    }

    /// <summary>
    /// Writes <c>{"splits": [score...], "all": score}</c>, a score being
    /// <c>{"split", "questions", "correct", "incorrect", "not_attempted", "known", "known_refused", "correct_rate",
    /// "incorrect_rate", "not_attempted_rate", "accuracy_given_attempted", "over_refusal_rate"}</c> (rates as fractions,
    /// null where undefined).
    /// </summary>
    public void WriteJson(string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteStartArray("splits");
            foreach (var score in Splits) WriteScore(json, score);
            json.WriteEndArray();
            json.WritePropertyName("all");
            WriteScore(json, All);
            json.WriteEndObject();
        });
    }

    /// <summary>One line per answer: <c>{"id", "split", "question", "answers": [accepted...], "answer", "verdict"}</c>.</summary>
    public int WriteAnswers(string path) => AtomicFile.WriteJsonLines(path, Answers, (json, answer) =>
    {
        json.WriteString("id", answer.Question.Id);
        json.WriteString("split", answer.Question.Split.ToName());
        json.WriteString("question", answer.Question.Question);
        json.WriteStartArray("answers");
        foreach (string accepted in answer.Question.Answers) json.WriteStringValue(accepted);
        json.WriteEndArray();
        json.WriteString("answer", answer.Answer);
        json.WriteString("verdict", ProbeFiles.Name(answer.Verdict));
    });

    private static void WriteScore(Utf8JsonWriter json, SplitScore score)
    {
        json.WriteStartObject();
        json.WriteString("split", score.Split);
        json.WriteNumber("questions", score.Questions);
        json.WriteNumber("correct", score.Correct);
        json.WriteNumber("incorrect", score.Incorrect);
        json.WriteNumber("not_attempted", score.NotAttempted);
        json.WriteNumber("known", score.Known);
        json.WriteNumber("known_refused", score.KnownRefused);
        Rate(json, "correct_rate", score.CorrectRate);
        Rate(json, "incorrect_rate", score.IncorrectRate);
        Rate(json, "not_attempted_rate", score.NotAttemptedRate);
        Rate(json, "accuracy_given_attempted", score.AccuracyGivenAttempted);
        Rate(json, "over_refusal_rate", score.OverRefusalRate);
        json.WriteEndObject();
    }

    private static void Rate(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsNaN(value)) json.WriteNull(name);
        else json.WriteNumber(name, Math.Round(value, 6));
    }

    private static string Percent(double rate) => double.IsNaN(rate) ? "-" : (100 * rate).ToString("F1", CultureInfo.InvariantCulture) + "%";
}

/// <summary>
/// Measures hallucination SimpleQA's way: one greedy answer per question (temperature 0), graded by
/// <see cref="AnswerJudge"/> as correct, incorrect (a hallucination) or not attempted (a refusal); per split, the share
/// of each and the accuracy given attempted; and, given the questions a reference model knew (the known decisions of a
/// probe of the model before refusal training, <see cref="ProbeFiles.ReadKnownQuestionIds"/>), the over-refusal rate:
/// the share of those this model refuses.
/// <code>
/// using var answers = new ChatModelAnswers(model, tokenizer);
/// var report = HallucinationEval.Run(answers, questions, known: ProbeFiles.ReadKnownQuestionIds("probe/decisions.jsonl"));
/// Console.Write(report.ToMarkdown());
/// </code>
/// </summary>
public static class HallucinationEval
{
    /// <param name="known">Ids of questions a reference model answered correctly; null or empty: no over-refusal rate.</param>
    /// <param name="maxTokens">The longest answer in tokens.</param>
    /// <param name="progress">Answers graded so far, of all.</param>
    public static HallucinationReport Run(IAnswerSource source, IReadOnlyList<KnowledgeQuestion> questions, IReadOnlySet<string>? known = null,
        int maxTokens = 48, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(questions);
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), $"max tokens {maxTokens} is invalid; expected at least 1");
        var requests = questions.Select(q => new AnswerRequest(q.Question, 0, 0f, 0, maxTokens)).ToList();
        var replies = new string?[requests.Count];
        int done = 0;
        progress?.Report((0, requests.Count));
        foreach (var reply in source.Answer(requests, cancellation))
        {
            if ((uint)reply.Request >= (uint)requests.Count || replies[reply.Request] is not null)
                throw new InvalidOperationException($"the answer source replied to request {reply.Request}, which is not one of the {requests.Count} asked or was answered already");
            replies[reply.Request] = reply.Text;
            done++; // not inside the call below: a null progress skips its arguments
            progress?.Report((done, requests.Count));
        }
        if (done != requests.Count) throw new InvalidOperationException($"the answer source answered {done} of {requests.Count} requests");

        var answers = questions.Select((q, i) => new EvaluatedAnswer(q, replies[i]!, AnswerJudge.Judge(replies[i], q.Answers))).ToList();
        known ??= new HashSet<string>();
        var splits = answers.GroupBy(a => a.Question.Split).OrderBy(g => g.Key).Select(g => Score(g.Key.ToName(), g.ToList(), known)).ToList();
        return new HallucinationReport(splits, Score("all", answers, known), answers, known.Count > 0);
    }

    private static SplitScore Score(string name, IReadOnlyList<EvaluatedAnswer> answers, IReadOnlySet<string> known)
    {
        var knownAnswers = answers.Where(a => known.Contains(a.Question.Id)).ToList();
        return new SplitScore(name, answers.Count,
            answers.Count(a => a.Verdict == AnswerVerdict.Correct),
            answers.Count(a => a.Verdict == AnswerVerdict.Incorrect),
            answers.Count(a => a.Verdict == AnswerVerdict.NotAttempted),
            knownAnswers.Count,
            knownAnswers.Count(a => a.Verdict == AnswerVerdict.NotAttempted));
    }
}
