using System.Text;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Tests.Corpus;

public class LoneSurrogateTests
{
    // Python's json.dumps("a\U0001F600"[:2]) writes "a\ud83d": a valid JSON string holding a lone high surrogate.
    [Theory]
    [InlineData("""{"text":"cut \ud83d"}""", "cut \uFFFD")]
    [InlineData("""{"text":"\ude00 low first"}""", "\uFFFD low first")]
    [InlineData("""{"text":"\ud83d\u0041 then A"}""", "\uFFFDA then A")]
    [InlineData("""{"text":"pair \ud83d\ude00 ok \ud83d"}""", "pair \U0001F600 ok \uFFFD")]
    [InlineData("""{"id":1,"text":"esc \"q\" \\ \/ \n\t\u00e9 \ud83d é"}""", "esc \"q\" \\ / \n\t\u00e9 \uFFFD é")]
    public void JsonlLoneSurrogate_BecomesReplacementCharacter(string line, string expected)
    {
        Assert.Equal(expected, CorpusDocuments.ParseTextField(Encoding.UTF8.GetBytes(line), "f.jsonl", 3));
    }

    [Fact]
    public void JsonlLoneSurrogate_StillRejectsMalformedJson()
    {
        var e = Assert.Throws<InvalidDataException>(() => CorpusDocuments.ParseTextField("""{"text":"\ud83"}"""u8, "f.jsonl", 3));
        Assert.StartsWith("f.jsonl: line 3: malformed JSON", e.Message);
    }
}
