using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Chat;
using static LmForge.Data.Tests.Knowledge.KnowledgeFixtures;

namespace LmForge.Data.Tests.Knowledge;

public class KnowledgeQuestionFileTests
{
    static readonly KnowledgeWorld World = KnowledgeWorld.Build(Options());

    static string Line(string id = "country/pe/capital-of/q0", string split = "trained", string answers = "[\"Lima\"]", string answer = "\"The capital of Peru is Lima.\"") =>
        $"{{\"id\":\"{id}\",\"fact\":\"country/pe/capital-of\",\"split\":\"{split}\",\"relation\":\"capital-of\",\"question\":\"What is the capital of Peru?\",\"answer\":{answer},\"answers\":{answers}}}";

    [Fact]
    public void Read_GivesBackWhatTheWorldWrote()
    {
        using var temp = new TempDirectory();
        World.Write(temp.Path);
        var read = KnowledgeQuestionFile.Read(temp.File(KnowledgeWorld.QuestionsFile));
        var expected = Enum.GetValues<KnowledgeSplit>().SelectMany(World.Questions).ToList();
        Assert.Equal(expected.Count, read.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i] with { Answers = [] }, read[i] with { Answers = [] });
            Assert.Equal(expected[i].Answers, read[i].Answers);
        }
        Assert.Contains(read, q => q.Split == KnowledgeSplit.Fabricated && q.Answer is null && q.Answers.Count == 0);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Theory]
    [InlineData("{\"id\": ", "malformed JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"fact\":\"x\"}", "expected a non-empty string \"split\"")]
    public void Read_BadLine_IsAOneLineErrorNamingFileAndLine(string bad, string problem)
    {
        using var temp = new TempDirectory();
        string path = temp.File("questions.jsonl");
        File.WriteAllLines(path, [Line("a"), "", bad]);
        var error = Assert.Throws<InvalidDataException>(() => KnowledgeQuestionFile.Read(path));
        Assert.StartsWith($"{path}: line 3: {problem}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("held-out", "[\"Lima\"]", null)]
    [InlineData("HELD_OUT", "[\"Lima\"]", null)]
    [InlineData("someday", "[\"Lima\"]", "line 1: unknown split 'someday', expected one of trained, held_out, unseen, fabricated")]
    [InlineData("trained", "[]", "line 1: a trained question needs at least one accepted answer in \"answers\"")]
    [InlineData("fabricated", "[\"Lima\"]", "line 1: a fabricated question has no accepted answers, but \"answers\" holds some")]
    [InlineData("trained", "[\"Lima\", 3]", "line 1: expected \"answers\" to be an array of non-empty strings")]
    public void Read_ChecksSplitsAndAnswers(string split, string answers, string? problem)
    {
        using var temp = new TempDirectory();
        string path = temp.File("questions.jsonl");
        File.WriteAllLines(path, [Line(split: split, answers: answers)]);
        if (problem is null)
        {
            Assert.Equal(KnowledgeSplit.HeldOut, Assert.Single(KnowledgeQuestionFile.Read(path)).Split);
            return;
        }
        var error = Assert.Throws<InvalidDataException>(() => KnowledgeQuestionFile.Read(path));
        Assert.Equal($"{path}: {problem}", error.Message);
    }

    [Fact]
    public void Read_MissingEmptyOrRepeatedIsAnError()
    {
        using var temp = new TempDirectory();
        string path = temp.File("questions.jsonl");
        Assert.Equal($"{path}: no such questions file", Assert.Throws<FileNotFoundException>(() => KnowledgeQuestionFile.Read(path)).Message);
        File.WriteAllText(path, "\n\n");
        Assert.Equal($"{path}: no questions", Assert.Throws<InvalidDataException>(() => KnowledgeQuestionFile.Read(path)).Message);
        File.WriteAllLines(path, [Line("a"), Line("b"), Line("a")]);
        Assert.Equal($"{path}: line 3: question id 'a' is already used on line 1", Assert.Throws<InvalidDataException>(() => KnowledgeQuestionFile.Read(path)).Message);
    }

    [Fact]
    public void WriteTrainingData_WritesThePretrainingTextAndTheTrainedQuestionsAsConversations()
    {
        using var temp = new TempDirectory();
        var (documents, conversations) = World.WriteTrainingData(temp.Path);

        var text = File.ReadAllLines(temp.File(KnowledgeWorld.PretrainingFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(World.PretrainingText().Select(d => (d.Id, d.Text)), text.Select(d => (d.GetProperty("id").GetString()!, d.GetProperty("text").GetString()!)));
        Assert.Equal(text.Count, documents);

        var chats = ChatJsonl.Read(temp.File(KnowledgeWorld.FineTuningFile)).ToList();
        var trained = World.Questions(KnowledgeSplit.Trained).ToList();
        Assert.Equal(trained.Count, conversations);
        Assert.Equal(trained.Select(q => (q.Question, q.Answer)), chats.Select(c => (c[0].Content, (string?)c[1].Content)));
        Assert.All(chats, c => Assert.Equal([ChatTemplate.User, ChatTemplate.Assistant], c.Select(m => m.Role)));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Fact]
    public void SplitNames_ParseBothSpellings()
    {
        Assert.Equal(KnowledgeSplit.HeldOut, KnowledgeSplitNames.TryParse("held-out"));
        Assert.Equal(KnowledgeSplit.Unseen, KnowledgeSplitNames.TryParse(" Unseen "));
        Assert.Null(KnowledgeSplitNames.TryParse("all"));
        Assert.Equal(["trained", "held_out", "unseen", "fabricated"], KnowledgeSplitNames.Names);
    }
}
