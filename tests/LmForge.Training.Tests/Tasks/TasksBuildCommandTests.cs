using System.Text.Json;

namespace LmForge.Training.Tests.Tasks;

/// <summary>`lmforge tasks build` writes the three tasks and their list, which `lmforge eval --tasks` then runs.</summary>
public class TasksBuildCommandTests
{
    [Fact]
    public void Tasks_build_writes_tasks_that_eval_runs()
    {
        string directory = TestFiles.TemporaryDirectory("tasks-build");
        string books = Directory.CreateDirectory(Path.Combine(directory, "books")).FullName;
        File.WriteAllText(Path.Combine(books, "harbour.txt"), string.Join("\n\n", Enumerable.Range(0, 20).Select(i =>
            $"The fishing boats of the northern harbour went out before dawn on day {i}, and every sailor carried bread, rope, lanterns and " +
            "a heavy coat against the wind. The gulls followed them past the lighthouse and over the grey water until the coast was a line. " +
            "By noon the nets were full of silver herring, and the old captain sang a song about his sister in the town. " +
            "When the weather turned, they hauled the nets, lit the lanterns and steered for the harbour.")));
        string output = Path.Combine(directory, "tasks");
        var (exitCode, text, errors) = TestFiles.RunTool("tasks", "build", "--out", output, "--books", books, "--cache", TestFiles.KnowledgeCache(Path.Combine(directory, "cache")),
            "--examples", "6");
        Assert.True(exitCode == 0, errors);
        foreach (string file in (string[])["last-word.jsonl", "next-sentence.jsonl", "knowledge.jsonl"])
        {
            string[] lines = File.ReadAllLines(Path.Combine(output, file));
            Assert.Equal(6, lines.Length);
            using var line = JsonDocument.Parse(lines[0]);
            Assert.Equal(4, line.RootElement.GetProperty("choices").GetArrayLength());
        }
        Assert.Contains($"Next: lmforge eval --checkpoint RUN --tasks {Path.Combine(output, "tasks.json")}", text);

        string checkpoint = LmForge.Tests.Shared.ChatCheckpoint.Create(Path.Combine(directory, "model"), width: 32, layers: 1, context: 512); // its tokenizer is byte-level: long rows
        (exitCode, text, errors) = TestFiles.RunTool("eval", "--checkpoint", checkpoint, "--tasks", Path.Combine(output, "tasks.json"));
        Assert.True(exitCode == 0, errors);
        Assert.Contains("last-word", text);
        Assert.Contains("CORE (mean centred)", text);

        (exitCode, _, errors) = TestFiles.RunTool("tasks", "build", "--out", output, "--books", Path.Combine(directory, "missing"));
        Assert.Equal(1, exitCode);
        Assert.StartsWith($"error: {Path.Combine(directory, "missing")}: no such directory of .txt books", errors.Trim(), StringComparison.Ordinal);
    }
}
