using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Data.Tasks;
using LmForge.Data.Tests.Knowledge;

namespace LmForge.Data.Tests.Tasks;

/// <summary>LmForge's own multiple-choice tasks: what each example holds, determinism, and the JSONL and task list they are written as.</summary>
public class MultipleChoiceTasksTests
{
    // Three small "books" of prose paragraphs; the last words and sentences are known.
    static readonly IReadOnlyList<(string Name, string Text)> Books =
    [
        ("harbour", string.Join("\n\n", Enumerable.Range(0, 12).Select(i =>
            $"The fishing boats of the northern harbour went out before dawn on day {Word(i)}, and every sailor carried bread, rope, lanterns and " +
            $"a heavy coat against the wind. The gulls followed them past the lighthouse and over the grey water until the coast was a line. " +
            $"By noon the nets were full of silver herring, and the old captain Marlow sang a song about his sister in the town. " +
            $"When the weather turned, they hauled the nets, lit the lanterns and steered for the harbour.")) +
            "\n\nCHAPTER II. A HEADING THAT IS NOT PROSE\n\n[An illustration]"),
        ("garden", string.Join("\n\n", Enumerable.Range(0, 12).Select(i =>
            $"Every morning the gardener walked slowly between the roses on path {Word(i)}, pulling weeds and talking quietly to the bees. " +
            $"Children from the village came to watch him work, because he told them stories about the king who once owned the garden. " +
            $"He planted tulips in autumn and tomatoes in spring, and he kept the seeds in a wooden box under his bed. " +
            $"At evening he sat on the bench and listened to the blackbirds singing in the hedge."))),
    ];

    static IEnumerable<string> Flat(IEnumerable<MultipleChoiceItem> items) =>
        items.Select(i => $"{i.Id}|{i.Context}|{string.Join("|", i.Choices)}|{i.Answer}");

    static string Word(int i) => ((string[])["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])[i];

    [Fact]
    public void Last_word_asks_for_a_paragraphs_final_word_among_words_of_the_same_paragraph()
    {
        var items = MultipleChoiceTasks.LastWord(Books, count: 100, seed: 3);
        Assert.Equal(24, items.Count); // every paragraph qualifies; the heading and the note do not
        Assert.All(items, item =>
        {
            Assert.Equal(4, item.Choices.Count);
            Assert.Equal(4, item.Choices.Distinct(StringComparer.OrdinalIgnoreCase).Count());
            string answer = item.Choices[item.Answer];
            Assert.Contains(answer, (string[])["harbour", "hedge"]);
            Assert.DoesNotContain(answer, item.Context.Split(' ')[^1]); // the context stops before the word
            Assert.True(item.Context.EndsWith("for the", StringComparison.Ordinal) || item.Context.EndsWith("in the", StringComparison.Ordinal), item.Context);
            foreach (string other in item.Choices.Where(c => c != answer))
                Assert.Contains(" " + other, item.Context, StringComparison.Ordinal); // distractors come from the passage itself, lower case like the answer
        });
        Assert.Equal(Flat(items), Flat(MultipleChoiceTasks.LastWord(Books, 100, seed: 3))); // deterministic for a seed
        Assert.NotEqual(items.Select(i => i.Answer), MultipleChoiceTasks.LastWord(Books, 100, seed: 4).Select(i => i.Answer));
        Assert.Equal(5, MultipleChoiceTasks.LastWord(Books, count: 5, seed: 3).Count);
    }

    [Fact]
    public void Next_sentence_offers_the_true_fourth_sentence_and_three_of_the_same_book()
    {
        var items = MultipleChoiceTasks.NextSentence(Books, count: 100, seed: 3);
        Assert.Equal(24, items.Count);
        Assert.All(items, item =>
        {
            string book = item.Id.Split('/')[1];
            string answer = item.Choices[item.Answer];
            Assert.StartsWith(book == "harbour" ? "When the weather turned" : "At evening he sat", answer, StringComparison.Ordinal);
            Assert.Equal(4, item.Choices.Distinct().Count());
            // the distractors are other paragraphs' sentences of the same book (never this paragraph's own)
            foreach (string other in item.Choices.Where(c => c != answer))
                Assert.DoesNotContain(item.Context, other, StringComparison.Ordinal);
            Assert.Equal(3, item.Context.Count(c => c == '.'));
        });
    }

    [Fact]
    public void Knowledge_questions_end_the_answer_sentence_with_one_of_four_objects_of_the_relation()
    {
        var world = KnowledgeWorld.Build(KnowledgeFixtures.Options());
        var items = MultipleChoiceTasks.Knowledge(world, count: 60, seed: 5);
        Assert.NotEmpty(items);
        var facts = world.Facts.ToDictionary(f => "knowledge/" + f.Id);
        Assert.All(items, item =>
        {
            var fact = facts[item.Id];
            Assert.False(fact.Subject.IsFabricated);
            Assert.Equal(fact.Relation.Answer(fact), item.Context + " " + item.Choices[item.Answer]);
            Assert.Equal(4, item.Choices.Distinct().Count());
            foreach (string other in item.Choices.Where(c => c != item.Choices[item.Answer]))
                Assert.DoesNotContain(fact.Object!, other, StringComparison.OrdinalIgnoreCase);
        });
        Assert.True(items.Select(i => facts[i.Id].Relation.Name).Distinct().Count() >= 4, "the relations take turns");
    }

    [Fact]
    public void Tasks_are_written_as_generic_multiple_choice_jsonl_with_a_task_list()
    {
        string directory = Directory.CreateTempSubdirectory("lmforge-tasks-").FullName;
        var items = MultipleChoiceTasks.LastWord(Books, 3, 1);
        string path = Path.Combine(directory, MultipleChoiceTasks.LastWordFile);
        Assert.Equal(3, MultipleChoiceTasks.Write(path, items));
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        using (var line = JsonDocument.Parse(lines[0]))
        {
            Assert.Equal(items[0].Context, line.RootElement.GetProperty("context").GetString());
            Assert.Equal(items[0].Choices, line.RootElement.GetProperty("choices").EnumerateArray().Select(c => c.GetString()!));
            Assert.Equal(items[0].Answer, line.RootElement.GetProperty("answer").GetInt32());
        }
        MultipleChoiceTasks.WriteTaskList(Path.Combine(directory, MultipleChoiceTasks.TaskListFile), [("last-word", MultipleChoiceTasks.LastWordFile)]);
        using var list = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, MultipleChoiceTasks.TaskListFile)));
        var task = list.RootElement.GetProperty("tasks")[0];
        Assert.Equal("last-word", task.GetProperty("name").GetString());
        Assert.Equal("multiple-choice", task.GetProperty("format").GetString());
        Directory.Delete(directory, recursive: true);
    }
}
