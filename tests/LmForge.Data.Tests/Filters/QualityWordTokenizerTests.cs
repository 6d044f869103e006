using LmForge.Data.Filters.Quality;

namespace LmForge.Data.Tests.Filters;

// Expected tokens are those NLTK's word_tokenize gives for the same sentences (Penn Treebank conventions), except that
// NLTK rewrites the double quote as `` / '' where we keep it as typed.
public class QualityWordTokenizerTests
{
    [Theory]
    [InlineData("Good muffins cost $3.88 in New York.", "Good|muffins|cost|$|3.88|in|New|York|.")]
    [InlineData("They'll save and invest more.", "They|'ll|save|and|invest|more|.")]
    [InlineData("I don't think so, Mr. Smith!", "I|do|n't|think|so|,|Mr.|Smith|!")]
    [InlineData("He said (twice) \"no\"; then left...", "He|said|(|twice|)|\"|no|\"|;|then|left|...")]
    [InlineData("It costs 1,000 dollars at 12:30 in the U.S.", "It|costs|1,000|dollars|at|12:30|in|the|U.S.")]
    [InlineData("well-known #hashtag 50% A&B", "well-known|#|hashtag|50|%|A|&|B")]
    public void Split_MatchesTreebankConventions(string text, string expected)
    {
        var words = QualityWordTokenizer.Split(text).Select(w => text.Substring(w.Start, w.Length));
        Assert.Equal(expected.Split('|'), words);
    }
}
