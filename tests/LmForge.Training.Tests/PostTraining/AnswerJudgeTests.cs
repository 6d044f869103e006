using LmForge.Training.PostTraining;
using static LmForge.Training.PostTraining.AnswerVerdict;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>The judge on a hand-made set of answers, each verdict decided by a person reading the answer.</summary>
public class AnswerJudgeTests
{
    [Theory]
    // correct, as said and paraphrased
    [InlineData("Paris", "Paris", Correct)]
    [InlineData("It's Paris, of course.", "Paris", Correct)]
    [InlineData("The capital of France is Paris.", "Paris", Correct)]
    // case, diacritics and compatibility forms differ from the accepted answer, or the other way round
    [InlineData("PARÍS!", "Paris", Correct)]
    [InlineData("It is bogota.", "Bogotá", Correct)]
    [InlineData("São Tomé", "Sao Tome", Correct)]
    [InlineData("Sa\u0303o Tome\u0301", "São Tomé", Correct)] // decomposed accents
    [InlineData("Ｐａｒｉｓ", "Paris", Correct)] // full-width letters
    [InlineData("It's Côte d’Ivoire.", "Côte d'Ivoire", Correct)]
    [InlineData("Москва", "МОСКВА", Correct)]
    [InlineData("the ﬁnal answer is Fiji", "Fiji", Correct)]
    // an accepted alias, and articles that one side has and the other lacks
    [InlineData("Mozart was born then; the UK was not involved.", "UK", Correct)]
    [InlineData("Netherlands", "the Netherlands", Correct)]
    [InlineData("He was a composer.", "composer", Correct)]
    // whole words only
    [InlineData("He was born in 17560.", "1756", Incorrect)]
    [InlineData("Parisian", "Paris", Incorrect)]
    // wrong
    [InlineData("Lyon", "Paris", Incorrect)]
    [InlineData("The capital of France is Lyon.", "Paris", Incorrect)]
    // refusals in several wordings
    [InlineData("I don't know.", "Paris", NotAttempted)]
    [InlineData("I do not know", "Paris", NotAttempted)]
    [InlineData("I’m not sure.", "Paris", NotAttempted)]
    [InlineData("I am not sure about that.", "Paris", NotAttempted)]
    [InlineData("I'm sorry, I don't know who that is.", "Paris", NotAttempted)]
    [InlineData("No idea!", "Paris", NotAttempted)]
    [InlineData("I cannot answer that question.", "Paris", NotAttempted)]
    [InlineData("Sorry, I don't have information about that person.", "Paris", NotAttempted)]
    [InlineData("Hmm, I really don't know, sorry.", "Paris", NotAttempted)]
    [InlineData("I DONT KNOW", "Paris", NotAttempted)]
    // empty
    [InlineData("", "Paris", NotAttempted)]
    [InlineData("   \n\t ", "Paris", NotAttempted)]
    [InlineData("...", "Paris", NotAttempted)]
    // a refusal that goes on to guess: wrong guesses are hallucinations, right ones correct
    [InlineData("I'm not sure, maybe Lyon.", "Paris", Incorrect)]
    [InlineData("I don't know but it could be Lyon", "Paris", Incorrect)]
    [InlineData("I'm not sure, but I think it's Paris.", "Paris", Correct)]
    public void Grades_the_hand_made_answers(string answer, string accepted, AnswerVerdict expected) =>
        Assert.Equal(expected, AnswerJudge.Judge(answer, [accepted]));

    [Fact]
    public void Any_accepted_answer_counts()
    {
        string[] accepted = ["Euro", "EUR"];
        Assert.Equal(Correct, AnswerJudge.Judge("They pay in EUR.", accepted));
        Assert.Equal(Correct, AnswerJudge.Judge("The euro.", accepted));
        Assert.Equal(Incorrect, AnswerJudge.Judge("The dollar.", accepted));
    }

    [Fact]
    public void Without_accepted_answers_everything_informative_is_incorrect()
    {
        // a fabricated entity: nothing true can be said about it
        Assert.Equal(Incorrect, AnswerJudge.Judge("Orson Kovacs was a painter.", []));
        Assert.Equal(NotAttempted, AnswerJudge.Judge("I don't know who that is.", []));
        Assert.Equal(NotAttempted, AnswerJudge.Judge("", []));
        // an accepted answer that normalises to nothing never matches
        Assert.Equal(Incorrect, AnswerJudge.Judge("The answer.", ["the"]));
    }

    [Fact]
    public void Informative_means_attempted() =>
        Assert.Equal([true, true, false], new[] { Correct, Incorrect, NotAttempted }.Select(AnswerJudge.IsInformative));

    [Theory]
    [InlineData("The Côte d’Ivoire!", "cote d ivoire")]
    [InlineData("  An  apple, a PEAR; the plum ", "apple pear plum")]
    [InlineData("Ångström's ﬁrst ½", "angstrom s first 1 2")]
    [InlineData("Washington, D.C.", "washington d c")]
    [InlineData("İstanbul", "istanbul")]
    [InlineData("", "")]
    public void Normalizes_case_accents_punctuation_and_articles(string text, string expected) =>
        Assert.Equal(expected, AnswerJudge.Normalize(text));

    [Fact]
    public void Folding_is_NFKD_without_marks()
    {
        Assert.Equal("Angstrom", UnicodeFolding.Fold("Ångström"));
        Assert.Equal("Angstrom", UnicodeFolding.Fold("A\u030Angstro\u0308m"));
        Assert.Equal("fi", UnicodeFolding.Fold("ﬁ"));
        Assert.Equal("1\u20442", UnicodeFolding.Fold("½"));
        Assert.Equal("Viet", UnicodeFolding.Fold("Việt"));
        Assert.Equal("ø ł ß", UnicodeFolding.Fold("ø ł ß")); // no decomposition in Unicode: kept
        Assert.Equal("한국", UnicodeFolding.Fold("한국"));       // Hangul: kept whole
        Assert.Equal("😀", UnicodeFolding.Fold("😀"));
    }

    [Fact]
    public void Refusal_phrases_and_the_taught_refusals_are_refusals()
    {
        foreach (string phrase in AnswerJudge.RefusalPhrases) Assert.True(AnswerJudge.IsRefusal(phrase), phrase);
        foreach (string refusal in KnowledgeProbe.Refusals) Assert.Equal(NotAttempted, AnswerJudge.Judge(refusal, ["Paris"]));
        Assert.False(AnswerJudge.IsRefusal("Hmm, well."));     // filler alone says nothing, but refuses nothing either
        Assert.False(AnswerJudge.IsRefusal("Lyon, I think."));
    }
}
