using System.Text;

namespace LmForge.Training.PostTraining;

/// <summary>What an answer to a knowledge question did, SimpleQA's three grades.</summary>
public enum AnswerVerdict
{
    /// <summary>It names an accepted answer.</summary>
    Correct,

    /// <summary>It says something and names no accepted answer: a hallucination.</summary>
    Incorrect,

    /// <summary>It says nothing, or only that it does not know: not informative.</summary>
    NotAttempted,
}

/// <summary>
/// Grades a model's answer against a fact's accepted answers, deterministically, by normalised string matching; no model
/// is asked. Both sides are normalised by <see cref="Normalize"/>. In this order:
/// <list type="number">
/// <item>An answer that normalises to nothing (empty, whitespace, punctuation, articles) is <see cref="AnswerVerdict.NotAttempted"/>.</item>
/// <item>An answer in which some accepted answer occurs as a whole-word sequence is <see cref="AnswerVerdict.Correct"/>,
/// hedged or not ("I'm not sure, but I think it's Lima" is correct, as SimpleQA grades it).</item>
/// <item>An answer that is a refusal (<see cref="IsRefusal"/>) is <see cref="AnswerVerdict.NotAttempted"/>.</item>
/// <item>Anything else is <see cref="AnswerVerdict.Incorrect"/>. A question with no accepted answers (a fabricated entity)
/// has only refusals and empty answers as not attempted, everything else incorrect.</item>
/// </list>
/// A refusal is judged clause by clause (clauses end at . , ; : ! ? ( ) – — and newlines, and before "but", "however"):
/// every clause must hold a <see cref="RefusalPhrases">refusal phrase</see> or be only <see cref="FillerWords">filler</see>,
/// and at least one must hold a phrase. So "I'm sorry, I don't know who that is." is a refusal, while "I'm not sure,
/// maybe Lyon." and "I don't know, but it could be Lyon." state an answer and, when it is wrong, are incorrect, as
/// SimpleQA grades a hedged wrong guess. What matching strings cannot see: a negated answer ("it is not Lima") or a list
/// of guesses that includes the right one counts as correct; a refusal that repeats the question's subject in a clause of
/// its own ("Orson Kovacs? I don't know.") counts as incorrect.
/// </summary>
public static class AnswerJudge
{
    /// <summary>
    /// Phrases that make a clause a refusal, matched as whole-word sequences after <see cref="Normalize"/> (so "don't
    /// know" also covers "I don't know", "I really don't know" and "don’t know"; "sorry" covers "I'm sorry").
    /// </summary>
    public static IReadOnlyList<string> RefusalPhrases { get; } =
    [
        "I don't know", "I do not know", "I'm not sure", "I am not sure", "I'm sorry", "no idea", "cannot answer",
        "don't have information",
        "don't know", "dont know", "do not know", "not sure", "not certain", "sorry", "can't answer", "can not answer",
        "unable to answer", "cannot say", "can't say", "cannot tell", "can't tell", "no information",
        "do not have information", "don't have any information", "do not have any information", "not enough information",
        "not familiar with", "never heard of", "not heard of", "don't recognize", "do not recognize", "not aware of",
        "no record of", "no knowledge of", "unknown to me",
    ];

    /// <summary>Words that may make up a whole clause of a refusal ("Hmm, I don't know." "Well, sorry, no idea.").</summary>
    public static IReadOnlyList<string> FillerWords { get; } =
        ["hmm", "hm", "um", "uh", "well", "oh", "ah", "no", "so", "unfortunately", "honestly", "apologies", "i", "m", "am", "afraid", "really", "actually", "please"];

    private static readonly HashSet<string> s_fillers = new(FillerWords, StringComparer.Ordinal);
    private static readonly HashSet<string> s_articles = new(["a", "an", "the"], StringComparer.Ordinal);
    private static readonly HashSet<string> s_clauseWords = new(["but", "however"], StringComparer.Ordinal);
    private const string ClauseEnds = ".,;:!?()\u2013\u2014\n";
    // Last: it normalises with the sets above.
    private static readonly string[] s_refusals = RefusalPhrases.Select(Normalize).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Grades <paramref name="answer"/> against <paramref name="accepted"/> (the fact's answers; empty for a fabricated entity).</summary>
    public static AnswerVerdict Judge(string? answer, IReadOnlyList<string> accepted)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        string normalized = Normalize(answer ?? "");
        if (normalized.Length == 0) return AnswerVerdict.NotAttempted;
        foreach (string candidate in accepted)
        {
            string expected = Normalize(candidate);
            if (expected.Length > 0 && ContainsWords(normalized, expected)) return AnswerVerdict.Correct;
        }
        return IsRefusal(answer!) ? AnswerVerdict.NotAttempted : AnswerVerdict.Incorrect;
    }

    /// <summary>True unless the answer is not attempted: what Llama 3 calls informative.</summary>
    public static bool IsInformative(AnswerVerdict verdict) => verdict != AnswerVerdict.NotAttempted;

    /// <summary>
    /// Lower case, Unicode compatibility decomposition with diacritics removed (<see cref="UnicodeFolding"/>), every
    /// character that is not a letter or a digit turned into a space, the articles "a", "an" and "the" dropped, and
    /// words separated by single spaces: "The Côte d’Ivoire!" → "cote d ivoire".
    /// </summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string folded = UnicodeFolding.Fold(text);
        var words = new StringBuilder(folded.Length);
        var word = new StringBuilder();
        void EndWord()
        {
            if (word.Length == 0) return;
            string done = word.ToString();
            word.Clear();
            if (s_articles.Contains(done)) return;
            if (words.Length > 0) words.Append(' ');
            words.Append(done);
        }
        foreach (var rune in folded.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune)) word.Append(Rune.ToLowerInvariant(rune).ToString());
            else if (Rune.GetUnicodeCategory(rune) is System.Globalization.UnicodeCategory.SpacingCombiningMark) word.Append(rune.ToString()); // part of a letter in Indic scripts
            else EndWord();
        }
        EndWord();
        return words.ToString();
    }

    /// <summary>
    /// True when every clause of <paramref name="answer"/> holds a refusal phrase or only filler words, and at least one
    /// holds a phrase (see the class summary).
    /// </summary>
    public static bool IsRefusal(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        bool refused = false;
        foreach (string clause in Clauses(answer))
        {
            if (s_refusals.Any(phrase => ContainsWords(clause, phrase))) refused = true;
            else if (!clause.Split(' ').All(s_fillers.Contains)) return false;
        }
        return refused;
    }

    // The answer's clauses, each normalised, empty ones left out.
    private static IEnumerable<string> Clauses(string answer)
    {
        foreach (string piece in answer.Split(ClauseEnds.ToCharArray()))
        {
            var clause = new List<string>();
            foreach (string word in Normalize(piece).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (s_clauseWords.Contains(word) && clause.Count > 0)
                {
                    yield return string.Join(' ', clause);
                    clause.Clear();
                }
                else if (!s_clauseWords.Contains(word)) clause.Add(word);
            }
            if (clause.Count > 0) yield return string.Join(' ', clause);
        }
    }

    // Whether the normalised words of `part` occur in the normalised `text` as a run of whole words.
    private static bool ContainsWords(string text, string part)
    {
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            bool startsWord = at == 0 || text[at - 1] == ' ';
            bool endsWord = at + part.Length == text.Length || text[at + part.Length] == ' ';
            if (startsWord && endsWord) return true;
        }
        return false;
    }
}
