using LmForge.Tests.Shared;

namespace LmForge.Training.Tests.Tasks;

public sealed class EvalCommandTests : IDisposable
{
    readonly string _directory = TestFiles.TemporaryDirectory("eval-command");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EvalScoresHellaSwagATaskAndATaskList()
    {
        string checkpoint = ChatCheckpoint.Create(Path.Combine(_directory, "model"), width: 32, layers: 1, context: 64);
        string hellaswag = Path.Combine(_directory, "hellaswag.jsonl");
        File.WriteAllText(hellaswag, MultipleChoiceEvalTests.HellaSwagLines);
        string mc = Path.Combine(_directory, "mc.jsonl");
        File.WriteAllLines(mc, Enumerable.Range(0, 6).Select(i =>
            $$"""{"context": "Hello there, how are you {{i}}?", "choices": ["I am fine.", "thank you", "today"], "answer": {{i % 3}}}"""));
        string list = Path.Combine(_directory, "tasks.json");
        File.WriteAllText(list, """{"tasks": [{"name": "hs", "file": "hellaswag.jsonl", "format": "hellaswag"}, {"name": "greetings", "file": "mc.jsonl", "format": "multiple-choice", "fewshot": 2}]}""");

        var (exitCode, output, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--task", "hellaswag", "--file", hellaswag, "--batch-size", "3");
        Assert.True(exitCode == 0, errors);
        Assert.Contains("hellaswag", output, StringComparison.Ordinal);
        Assert.Contains("acc_norm", output, StringComparison.Ordinal);

        (exitCode, output, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--task", "multiple-choice", "--file", mc, "--fewshot", "3", "--delimiter", " =>", "--limit", "4");
        Assert.True(exitCode == 0, errors);
        Assert.Matches(@"multiple-choice\s*│\s*4\s*│", output);

        (exitCode, output, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--tasks", list);
        Assert.True(exitCode == 0, errors);
        Assert.Contains("greetings", output, StringComparison.Ordinal);
        Assert.Contains("CORE", output, StringComparison.Ordinal);

        (exitCode, _, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--tasks", list, "--shards", hellaswag);
        Assert.Equal(1, exitCode);
        Assert.StartsWith("error: give exactly one of --shards", errors, StringComparison.Ordinal);

        (exitCode, _, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--tasks", list, "--fewshot", "2");
        Assert.Equal(1, exitCode);
        Assert.StartsWith("error: --file, --fewshot and --delimiter go with --task", errors, StringComparison.Ordinal);

        File.AppendAllText(mc, "{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 5}\n");
        (exitCode, _, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--task", "multiple-choice", "--file", mc);
        Assert.Equal(1, exitCode);
        Assert.Contains($"{mc}:7: field 'answer' is 5", errors, StringComparison.Ordinal);
    }
}
