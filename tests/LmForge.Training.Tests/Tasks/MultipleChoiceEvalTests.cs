using LmForge.Training.Tasks;

namespace LmForge.Training.Tests.Tasks;

public sealed class MultipleChoiceEvalTests : IDisposable
{
    readonly string _directory = TestFiles.TemporaryDirectory("multiple-choice-files");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // made up, in HellaSwag's official layout (fields we do not read included)
    internal const string HellaSwagLines = """
        {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain", "label": 3, "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY"}
        {"ind": 92, "activity_label": "Clean and jerk", "ctx_a": "A lady walks to a barbell.", "ctx_b": "she", "ctx": "A lady walks to a barbell. she", "split": "val", "split_type": "zeroshot", "label": "0", "endings": ["bends down and grabs the pole.", "swings and lands in her arms.", "pulls a rope attached to the barbell.", "is in a kitchen."], "source_id": "activitynet~v_-lJS58hyo1c"}

        """;

    string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadsHellaSwagWithASpaceBeforeEachEnding()
    {
        var examples = MultipleChoiceFile.Read(Write("hellaswag.jsonl", HellaSwagLines), MultipleChoiceFormat.HellaSwag);
        Assert.Equal(2, examples.Count);
        Assert.Equal("A man is sitting on a roof. he", examples[0].Context);
        Assert.Equal(" starts pulling up roofing on a roof.", examples[0].Choices[3]);
        Assert.Equal(3, examples[0].Answer);
        Assert.Equal(0, examples[1].Answer); // a label written as a string
        Assert.Equal("", MultipleChoiceFile.DefaultDelimiter(MultipleChoiceFormat.HellaSwag));
    }

    [Fact]
    public void ReadsOurFormat()
    {
        var examples = MultipleChoiceFile.Read(Write("mc.jsonl", """
            {"id": "q1", "context": "The sky is", "choices": ["blue", "made of cheese", "loud"], "answer": 0}
            {"context": "Two plus two is", "choices": ["four", "five"], "answer": 0}
            """), MultipleChoiceFormat.MultipleChoice);
        Assert.Equal(["blue", "made of cheese", "loud"], examples[0].Choices);
        Assert.Equal(2, examples[1].Choices.Count);
        var rendered = MultipleChoiceEval.Render(examples, 0, fewShot: 0, delimiter: " ");
        Assert.Equal("The sky is", rendered.Context);
        Assert.Equal(" made of cheese", rendered.Choices[1]);
    }

    [Theory]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"answer\": 2}", "field 'answer' is 2, expected an index of the 2 choices (0 to 1)")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"\"], \"answer\": 0}", "field 'choices' entry 1 is empty")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\"], \"answer\": 0}", "field 'choices' has 1 entries, expected at least 2")]
    [InlineData("context: c", "not a JSON object")]
    [InlineData("{\"context\": \"c\", \"answer\": 0}", "field 'choices' is missing")]
    [InlineData("{\"choices\": [\"a\", \"b\"], \"answer\": 0}", "field 'context' is missing")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}", "field 'answer' is missing")]
    public void BadLinesAreOneLineErrorsWithTheLineNumber(string line, string expected)
    {
        string path = Write("bad.jsonl", "{\"context\": \"ok\", \"choices\": [\"a\", \"b\"], \"answer\": 1}\n\n" + line + "\n");
        var error = Assert.Throws<InvalidDataException>(() => MultipleChoiceFile.Read(path, MultipleChoiceFormat.MultipleChoice));
        Assert.Equal($"{path}:3: {expected}", error.Message);
    }

    [Theory]
    [InlineData("\"label\": 4, \"endings\": [\"a\", \"b\", \"c\", \"d\"]", "field 'label' is 4, expected an index of the 4 choices (0 to 3)")]
    [InlineData("\"label\": 0, \"endings\": [\"a\", \"b\", \"c\"]", "field 'endings' has 3 entries, expected 4")]
    [InlineData("\"label\": 0, \"endings\": [\"a\", \"b\", \"\", \"d\"]", "field 'endings' entry 2 is empty")]
    [InlineData("\"endings\": [\"a\", \"b\", \"c\", \"d\"]", "field 'label' is missing")]
    public void BadHellaSwagLinesNameTheLine(string fields, string expected)
    {
        string path = Write("bad-hellaswag.jsonl", "{\"ctx\": \"x\", " + fields + "}\n");
        var error = Assert.Throws<InvalidDataException>(() => MultipleChoiceFile.Read(path, MultipleChoiceFormat.HellaSwag));
        Assert.Equal($"{path}:1: {expected}", error.Message);
    }

    [Fact]
    public void FewShotExamplesAreSeededAndNeverTheScoredOne()
    {
        var examples = Enumerable.Range(0, 10).Select(i => new MultipleChoiceExample($"context {i}", [$"right {i}", $"wrong {i}"], 0)).ToArray();
        for (int index = 0; index < examples.Length; index++)
        {
            foreach (int shots in new[] { 1, 3, 9 })
            {
                var drawn = MultipleChoiceEval.FewShotIndices(examples.Length, index, shots);
                Assert.Equal(shots, drawn.Distinct().Count());
                Assert.DoesNotContain(index, drawn);
                Assert.All(drawn, i => Assert.InRange(i, 0, examples.Length - 1));
                Assert.Equal(drawn, MultipleChoiceEval.FewShotIndices(examples.Length, index, shots));
            }
        }
        Assert.NotEqual(MultipleChoiceEval.FewShotIndices(100, 5, 4, seed: 1), MultipleChoiceEval.FewShotIndices(100, 5, 4, seed: 2));

        var rendered = MultipleChoiceEval.Render(examples, 4, fewShot: 2, delimiter: " => ");
        int[] shotsOf4 = MultipleChoiceEval.FewShotIndices(examples.Length, 4, 2);
        Assert.Equal($"context {shotsOf4[0]} => right {shotsOf4[0]}\n\ncontext {shotsOf4[1]} => right {shotsOf4[1]}\n\ncontext 4", rendered.Context);
        Assert.Equal([" => right 4", " => wrong 4"], rendered.Choices);
        Assert.Throws<ArgumentException>(() => MultipleChoiceEval.FewShotIndices(examples.Length, 0, 10));
    }

    [Fact]
    public void CoreCentresEachAccuracyOnItsRandomBaseline()
    {
        // 4 choices: baseline 1/4, acc_norm 1/2 → (0.5 − 0.25) / 0.75 = 1/3
        var four = new MultipleChoiceResult("four", Examples: 4, Correct: 1, CorrectNorm: 2, RandomBaseline: 0.25);
        Assert.Equal(1.0 / 3, four.Centered, 12);
        // mixed 2 and 4 choices: the baseline is the mean of 1/k
        var mixed = MultipleChoiceResult.Summarize("mixed", [
            new ExampleScore([new ChoiceScore(1, 1, 1), new ChoiceScore(2, 2, 1)], 0),
            new ExampleScore([new ChoiceScore(1, 1, 1), new ChoiceScore(2, 2, 1), new ChoiceScore(3, 3, 1), new ChoiceScore(4, 4, 1)], 3),
        ]);
        Assert.Equal(0.375, mixed.RandomBaseline, 12);
        Assert.Equal(0.5, mixed.AccuracyNorm);
        Assert.Equal((0.5 - 0.375) / 0.625, mixed.Centered, 12);
        Assert.Equal((1.0 / 3 + 0.2) / 2, new CoreResult([four, mixed]).Core, 12);
        Assert.Equal(0, MultipleChoiceResult.Center(0.5, 0.5));
    }

    [Fact]
    public void ReadsATaskListRelativeToItsFolder()
    {
        string path = Write("tasks.json", """{"tasks": [{"name": "hs", "file": "hellaswag.jsonl", "format": "hellaswag"}, {"name": "mc", "file": "sub/mc.jsonl", "format": "multiple-choice", "fewshot": 3, "delimiter": ": "}]}""");
        var tasks = MultipleChoiceTask.ReadList(path);
        Assert.Equal(Path.Combine(_directory, "hellaswag.jsonl"), tasks[0].File);
        Assert.Equal(MultipleChoiceFormat.HellaSwag, tasks[0].Format);
        Assert.Equal("", tasks[0].ContinuationDelimiter);
        Assert.Equal((3, ": "), (tasks[1].FewShot, tasks[1].ContinuationDelimiter));

        string bad = Write("bad-tasks.json", """{"tasks": [{"name": "x", "file": "f.jsonl", "format": "mmlu"}]}""");
        var error = Assert.Throws<InvalidDataException>(() => MultipleChoiceTask.ReadList(bad));
        Assert.Equal($"{bad}: task \"x\": field 'format': format \"mmlu\" is unknown; expected \"hellaswag\" or \"multiple-choice\"", error.Message);
    }
}
