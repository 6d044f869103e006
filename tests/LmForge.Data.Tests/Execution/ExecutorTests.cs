using System.IO.Compression;
using LmForge.Data.Execution;
using LmForge.Data.Pipeline;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Tests.Execution;

/// <summary>Test-only steps: a filter dropping short texts, and a step that throws while a flag file exists.</summary>
internal sealed class DropShortFilter(int minLength) : DocumentFilter
{
    public override string Name => "test_drop_short";

    protected override string? Reject(Document document) => document.Text.Length < minLength ? "too_short" : null;
}

internal sealed class FailWhileFlagExists(string flagPath, int rank) : IPipelineStep
{
    public string Name => "test_fail";

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        int seen = 0;
        foreach (var document in documents)
        {
            if (context.Rank == rank && ++seen == 3 && File.Exists(flagPath)) throw new IOException("simulated crash");
            yield return document;
        }
    }
}

public class ExecutorTests
{
    static ExecutorTests()
    {
        StepRegistry.Register("test_drop_short", p => new DropShortFilter(p.GetInt("min_length")));
        StepRegistry.Register("test_fail", p => new FailWhileFlagExists(p.GetPath("flag"), p.GetInt("rank")));
    }

    private static void WriteInputs(TempDirectory dir, int files, int perFile)
    {
        Directory.CreateDirectory(dir.File("in"));
        var random = new Random(20230828);
        for (int f = 0; f < files; f++)
        {
            using var writer = new StreamWriter(dir.File($"in/part{f:D2}.jsonl"));
            for (int i = 0; i < perFile; i++)
            {
                int length = random.Next(1, 40);
                writer.WriteLine($"{{\"id\": \"{f}-{i}\", \"text\": \"{new string('a', length)}\"}}");
            }
        }
    }

    private static Recipe MakeRecipe(TempDirectory dir, int tasks, string extraStep = "") => Recipe.Parse($$"""
        {"work_dir": "work", "stages": [
          {"name": "clean", "tasks": {{tasks}}, "removed_dir": "removed", "steps": [
            {"type": "jsonl_reader", "path": "in"},
            {"type": "test_drop_short", "min_length": 10}{{extraStep}},
            {"type": "jsonl_writer", "path": "out"}]},
          {"name": "copy", "tasks": 1, "steps": [
            {"type": "jsonl_reader", "path": "out"},
            {"type": "jsonl_writer", "path": "final", "compress": false}]}
        ]}
        """, dir.File("recipe.json"));

    private static List<Document> ReadAll(string path) => StepRunner.Run(new JsonlReader(path)).Documents;

    [Fact]
    public void Runs_all_stages_writes_shards_stats_and_markers()
    {
        using var dir = new TempDirectory();
        WriteInputs(dir, files: 5, perFile: 40);
        var recipe = MakeRecipe(dir, tasks: 3);
        var result = new LocalExecutor(recipe, workers: 2).Run();
        Assert.True(result.Succeeded);

        Assert.Equal(["00000.jsonl.gz", "00001.jsonl.gz", "00002.jsonl.gz"], Directory.GetFiles(dir.File("out")).Select(Path.GetFileName).Order());
        var kept = ReadAll(dir.File("out"));
        var expected = ReadAll(dir.File("in")).Where(d => d.Text.Length >= 10).Select(d => d.Id).Order().ToList();
        Assert.Equal(expected, kept.Select(d => d.Id).Order());
        Assert.Equal(expected, ReadAll(dir.File("final")).Select(d => d.Id).Order());

        var stats = result.StageStats["clean"];
        var filter = stats.For("test_drop_short");
        Assert.Equal(200, stats.For("jsonl_reader").DocumentsKept);
        Assert.Equal(200, filter.DocumentsIn);
        Assert.Equal(filter.DocumentsIn, filter.DocumentsKept + filter.DocumentsRemoved);
        Assert.Equal(filter.CharactersIn, filter.CharactersKept + filter.CharactersRemoved);
        Assert.Equal(filter.DocumentsRemoved, filter.RemovedByReason["too_short"]);
        Assert.Equal(expected.Count, stats.For("jsonl_writer").DocumentsKept);

        // The merged stats file on disk says the same.
        var runner = new TaskRunner(recipe);
        var onDisk = StatsFile.Parse(File.ReadAllText(runner.MergedStatsPath(recipe.Stages[0])), "stats.json");
        Assert.Equal(filter.DocumentsRemoved, onDisk.For("test_drop_short").DocumentsRemoved);
        Assert.Equal(3, runner.CountDone(recipe.Stages[0]));

        // Removed documents are written with their reason.
        var removed = ReadAll(dir.File("removed/test_drop_short"));
        Assert.Equal(filter.DocumentsRemoved, removed.Count);
        Assert.All(removed, d => Assert.Equal("too_short", d.Metadata["removed_reason"]));
    }

    [Fact]
    public void Markers_and_stats_go_through_a_temporary_name_of_their_own()
    {
        using var dir = new TempDirectory();
        WriteInputs(dir, files: 2, perFile: 10);
        var recipe = MakeRecipe(dir, tasks: 2);
        var runner = new TaskRunner(recipe);
        var clean = recipe.Stages[0];
        foreach (int rank in new[] { 0, 1 }) runner.Run(clean, rank);

        // Another process's temporary file beside the target is neither overwritten nor moved into place.
        string merged = runner.MergedStatsPath(clean);
        File.WriteAllText(merged + ".tmp", "another writer's half-written stats");
        runner.MergeStats(clean);
        Assert.Equal("another writer's half-written stats", File.ReadAllText(merged + ".tmp"));
        Assert.Equal(20, StatsFile.Parse(File.ReadAllText(merged), merged).For("jsonl_reader").DocumentsKept);
        File.Delete(merged + ".tmp");

        // A failed rename (the target is a directory) deletes the temporary file and leaves no stats.json.
        File.Delete(merged);
        Directory.CreateDirectory(merged);
        Assert.ThrowsAny<IOException>(() => runner.MergeStats(clean));
        Assert.Empty(Directory.GetFiles(runner.StageDirectory(clean), "*.tmp"));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(runner.MarkerPath(clean, 0))!, "*.tmp"));
    }

    [Fact]
    public void A_write_that_throws_leaves_the_old_file_and_no_temporary()
    {
        using var dir = new TempDirectory();
        string path = dir.File("sub/data.bin");
        AtomicFile.WriteText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half of the new"u8);
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.File("sub")));
    }

    [Fact]
    public void A_crashed_task_leaves_no_output_or_marker_and_the_rerun_redoes_only_it()
    {
        using var dir = new TempDirectory();
        WriteInputs(dir, files: 4, perFile: 30);
        File.WriteAllText(dir.File("crash.flag"), "");
        var recipe = MakeRecipe(dir, tasks: 4, extraStep: """, {"type": "test_fail", "flag": "crash.flag", "rank": 2}""");
        var runner = new TaskRunner(recipe);
        var clean = recipe.Stages[0];

        var first = new LocalExecutor(recipe, workers: 2).Run();
        var failure = Assert.Single(first.Failures);
        Assert.Contains("stage 'clean' task 2", failure.Message, StringComparison.Ordinal);
        Assert.False(runner.IsDone(clean, 2));
        Assert.False(File.Exists(dir.File("out/00002.jsonl.gz")));
        Assert.False(File.Exists(dir.File("out/00002.jsonl.gz.tmp")));
        Assert.False(Directory.Exists(dir.File("final"))); // the next stage did not start
        Assert.Throws<InvalidOperationException>(() => runner.EnsureEarlierStagesComplete(recipe.Stages[1]));

        var finishedBefore = new[] { 0, 1, 3 }.ToDictionary(r => r, r => File.GetLastWriteTimeUtc(runner.MarkerPath(clean, r)));
        var shardBefore = File.ReadAllBytes(dir.File("out/00000.jsonl.gz"));
        File.Delete(dir.File("crash.flag"));
        Thread.Sleep(20);
        var second = new LocalExecutor(recipe, workers: 2).Run();
        Assert.True(second.Succeeded);
        foreach (var (rank, time) in finishedBefore) Assert.Equal(time, File.GetLastWriteTimeUtc(runner.MarkerPath(clean, rank)));
        Assert.Equal(shardBefore, File.ReadAllBytes(dir.File("out/00000.jsonl.gz")));
        Assert.True(runner.IsDone(clean, 2));
        var expected = ReadAll(dir.File("in")).Where(d => d.Text.Length >= 10).Count();
        Assert.Equal(expected, ReadAll(dir.File("final")).Count);
        Assert.Equal(120, second.StageStats["clean"].For("jsonl_reader").DocumentsKept); // stats of all four tasks
    }

    [Fact]
    public void An_io_error_outside_the_steps_is_that_task_s_failure_not_a_crash()
    {
        using var dir = new TempDirectory();
        WriteInputs(dir, files: 2, perFile: 10);
        var recipe = MakeRecipe(dir, tasks: 2);
        var runner = new TaskRunner(recipe);
        var clean = recipe.Stages[0];
        Directory.CreateDirectory(runner.TaskStatsPath(clean, 1)); // task 1's stats file cannot be written
        var result = new LocalExecutor(recipe, workers: 2).Run();
        var failure = Assert.Single(result.Failures);
        Assert.Contains("stage 'clean' task 1", failure.Message, StringComparison.Ordinal);
        Assert.Contains(failure.InnerException!.Message, failure.Message, StringComparison.Ordinal);
        Assert.True(runner.IsDone(clean, 0));
        Assert.False(runner.IsDone(clean, 1));
    }

    [Fact]
    public void Run_task_refuses_a_rank_outside_the_stage()
    {
        using var dir = new TempDirectory();
        WriteInputs(dir, files: 1, perFile: 2);
        var recipe = MakeRecipe(dir, tasks: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaskRunner(recipe).Run(recipe.Stages[0], 2));
    }

    [Fact]
    public void Jsonl_writer_output_reads_back_identically()
    {
        using var dir = new TempDirectory();
        var doc = new Document("x\"1", "line one\nline \u00e9 two \u2603 \"quoted\" \\ end") { Url = "https://example.org/?a=1&b=<2>" };
        doc.Metadata["language"] = "en";
        doc.Metadata["score"] = 0.25;
        doc.Metadata["count"] = 3L;
        var writer = new LmForge.Data.Writers.JsonlWriter(dir.File("o"));
        var (passed, _, _) = StepRunner.Run(writer, [doc]);
        Assert.Single(passed);
        using var gz = new GZipStream(File.OpenRead(dir.File("o/00000.jsonl.gz")), CompressionMode.Decompress);
        var line = new StreamReader(gz).ReadToEnd();
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(doc.Text, json.RootElement.GetProperty("text").GetString());
        var back = Assert.Single(ReadAll(dir.File("o")));
        Assert.Equal(doc.Id, back.Id);
        Assert.Equal(doc.Text, back.Text);
        Assert.Equal(doc.Url, back.Url);
        Assert.Equal("en", back.Metadata["language"]);
        Assert.Equal(0.25, back.Metadata["score"]);
        Assert.Equal(3L, back.Metadata["count"]);
    }
}
