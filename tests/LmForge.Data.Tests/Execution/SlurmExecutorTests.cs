using System.Diagnostics;
using System.Text.Json;
using LmForge.Data.Execution;
using LmForge.Data.Recipes;
using LmForge.Data.Tests.Dedup;
using LmForge.Tests.Shared;

namespace LmForge.Data.Tests.Execution;

/// <summary>A fact that runs only where a Slurm cluster answers (tests/setup/data-filters.sh starts one on this machine);
/// elsewhere it is skipped, saying why, except under CI=true, where it runs and <see cref="SlurmCluster.Require"/> fails it.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        Skip = Oracle.SkipReason(SlurmCluster.IsUp(out var reason), $"a Slurm cluster ({reason})", SlurmCluster.HowToInstall);
    }
}

internal static class SlurmCluster
{
    public const string HowToInstall = "run tests/setup/data-filters.sh as root to start one (test.sh does)";

    /// <summary>Fails the test, saying what is wrong and what starts a cluster, when none answers (see <see cref="Oracle"/>).</summary>
    public static void Require() => Oracle.Require(IsUp(out var reason), $"a Slurm cluster ({reason})", HowToInstall);

    public static bool IsUp(out string reason)
    {
        try
        {
            var info = new ProcessStartInfo("sinfo", ["-h", "-o", "%T"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(10_000) || process.ExitCode != 0)
            {
                reason = "sinfo failed (is slurmctld running?)";
                return false;
            }
            bool up = output.Split('\n').Any(s => s.Trim() is "idle" or "mixed" or "allocated" or "completing");
            reason = up ? "" : $"no node is up (sinfo states: {output.Trim().ReplaceLineEndings(",")})";
            return up;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            reason = "sinfo is not installed";
            return false;
        }
    }

    /// <summary>The lmforge CLI built beside this test project (the test project references it for build order only).</summary>
    public static string LmforgeCommand()
    {
        // tests/LmForge.Data.Tests/bin/<Configuration>/<tfm>/ -> src/LmForge.Cli/bin/<Configuration>/<tfm>/lmforge.dll
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string tfm = output.Name, configuration = output.Parent!.Name;
        var root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(root, "src", "LmForge.Cli", "bin", configuration, tfm, "lmforge.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll}: the lmforge CLI is not built; build tests/LmForge.Data.Tests (it builds the CLI)", dll);
        return $"{Environment.ProcessPath} {dll}";
    }
}

public sealed class SlurmExecutorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // Five stages as FineWeb runs them: filter and keep, MinHash signatures, buckets, clusters, dedup filter.
    private Recipe WriteRecipe(string name)
    {
        string root = _dir.File(name);
        Directory.CreateDirectory(Path.Combine(root, "in"));
        var corpus = new DedupTestCorpus(originals: 60, exactCopies: 6, nearCopies: 6);
        for (int file = 0; file < 4; file++)
        {
            var lines = corpus.Documents.Where((_, i) => i % 4 == file).Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text }));
            File.WriteAllLines(Path.Combine(root, "in", $"part{file}.jsonl"), lines);
        }
        string json = """
            {"name": "slurm-e2e", "work_dir": "work", "stages": [
              {"name": "filter", "tasks": 3, "steps": [
                {"type": "jsonl_reader", "path": "in"},
                {"type": "gopher_repetition"},
                {"type": "jsonl_writer", "path": "filtered", "compress": false}]},
              {"name": "signatures", "tasks": 3, "steps": [
                {"type": "jsonl_reader", "path": "filtered"}, {"type": "minhash_signature", "folder": "minhash"}]},
              {"name": "buckets", "tasks": 4, "steps": [{"type": "minhash_buckets", "folder": "minhash"}]},
              {"name": "cluster", "tasks": 1, "steps": [{"type": "minhash_cluster", "folder": "minhash"}]},
              {"name": "dedup", "tasks": 3, "steps": [
                {"type": "jsonl_reader", "path": "filtered"}, {"type": "minhash_filter", "folder": "minhash"},
                {"type": "jsonl_writer", "path": "final", "compress": false}]}
            ]}
            """;
        string recipePath = Path.Combine(root, "recipe.json");
        File.WriteAllText(recipePath, json);
        return Recipe.Load(recipePath);
    }

    [SlurmFact]
    public void RecipeRunThroughSlurm_MatchesTheLocalRun()
    {
        SlurmCluster.Require();
        var local = WriteRecipe("local");
        Assert.True(new LocalExecutor(local, workers: 2).Run().Succeeded);
        var slurm = WriteRecipe("slurm");
        var executor = new SlurmExecutor(slurm, new SlurmOptions { LmforgeCommand = SlurmCluster.LmforgeCommand() });
        var submissions = executor.Submit();
        Assert.Equal(["filter", "signatures", "buckets", "cluster", "dedup"], submissions.Select(s => s.Stage));
        Assert.All(submissions, s => Assert.NotNull(s.JobId));
        var merged = executor.Wait(submissions, TimeSpan.FromSeconds(100));

        var localRunner = new TaskRunner(local);
        var slurmRunner = new TaskRunner(slurm);
        foreach (var stage in slurm.Stages)
        {
            Assert.Equal(stage.Tasks, slurmRunner.CountDone(stage));
            // Wait wrote every stage's merged stats.json, the same as the local executor's.
            string statsPath = slurmRunner.MergedStatsPath(stage);
            Assert.True(File.Exists(statsPath), $"{statsPath} was not written");
            Assert.Equal(File.ReadAllText(localRunner.MergedStatsPath(local.Stage(stage.Name))), File.ReadAllText(statsPath));
            Assert.Equal(merged[stage.Name].ToJson(), File.ReadAllText(statsPath));
        }
        // The merged stats add up over the tasks: all 72 documents went through the filter stage and 12 copies were removed.
        var filter = StatsFile.Parse(File.ReadAllText(slurmRunner.MergedStatsPath(slurm.Stage("filter"))), "filter").For("gopher_repetition");
        Assert.Equal(72, filter.DocumentsIn);
        Assert.Equal(filter.DocumentsIn, filter.DocumentsKept + filter.DocumentsRemoved);
        var dedup = StatsFile.Parse(File.ReadAllText(slurmRunner.MergedStatsPath(slurm.Stage("dedup"))), "dedup").For("minhash_filter");
        Assert.Equal(12, dedup.DocumentsRemoved);
        foreach (var folder in new[] { "filtered", "final" })
        {
            var names = Directory.GetFiles(_dir.File($"local/{folder}")).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(names, Directory.GetFiles(_dir.File($"slurm/{folder}")).Select(Path.GetFileName).Order());
            foreach (var name in names)
                Assert.Equal(File.ReadAllText(_dir.File($"local/{folder}/{name}")), File.ReadAllText(_dir.File($"slurm/{folder}/{name}")));
        }
        // The planted copies were removed (60 pages survive of 72), the same way in both runs.
        Assert.Equal(60, Directory.GetFiles(_dir.File("slurm/final")).Sum(f => File.ReadAllLines(f).Length));
        Assert.Equal(localRunner.MergeStats(local.Stage("dedup")).For("minhash_filter").DocumentsRemoved,
                     slurmRunner.MergeStats(slurm.Stage("dedup")).For("minhash_filter").DocumentsRemoved);

        // Everything is done: a second submission submits nothing.
        Assert.Empty(executor.Submit());
    }

    [Fact]
    public void DryRun_WritesOneArrayScriptPerStage_ChainedByAfterOk()
    {
        var recipe = WriteRecipe("dry");
        var executor = new SlurmExecutor(recipe, new SlurmOptions { LmforgeCommand = "lmforge", Partition = "cpu", TimeLimit = "01:00:00", MaxParallelTasks = 2 })
        {
            Sbatch = "/nonexistent/sbatch", // a dry run must not call it
        };
        var submissions = executor.Submit(dryRun: true);
        Assert.Equal(5, submissions.Count);
        Assert.All(submissions, s => Assert.Null(s.JobId));
        Assert.DoesNotContain("--dependency", submissions[0].SbatchCommand, StringComparison.Ordinal);
        Assert.Contains("--dependency=afterok:<job of filter>", submissions[1].SbatchCommand, StringComparison.Ordinal);
        var script = File.ReadAllText(submissions[2].ScriptPath);
        Assert.Contains("#SBATCH --array=0-3%2\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --partition=cpu\n#SBATCH --time=01:00:00\n", script, StringComparison.Ordinal);
        Assert.Contains($"exec lmforge data run-task {recipe.SourcePath} --stage buckets --rank \"$SLURM_ARRAY_TASK_ID\" --world-size 4\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void DoneTasks_AreLeftOutOfTheArray()
    {
        Assert.Equal("0-3,5,7-9", SlurmExecutor.ArraySpec([0, 1, 2, 3, 5, 7, 8, 9]));
        var recipe = WriteRecipe("resume");
        var runner = new TaskRunner(recipe);
        runner.Run(recipe.Stages[0], 1);
        foreach (int rank in new[] { 0, 1, 2 }) runner.Run(recipe.Stages[0], rank);
        var submissions = new SlurmExecutor(recipe, new SlurmOptions { LmforgeCommand = "lmforge" }).Submit(dryRun: true);
        Assert.Equal("signatures", submissions[0].Stage);
        Assert.Contains("#SBATCH --array=0-2\n", File.ReadAllText(submissions[0].ScriptPath), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingSbatch_FailsWithOneLine()
    {
        var recipe = WriteRecipe("nosbatch");
        var error = Assert.Throws<InvalidOperationException>(() => new SlurmExecutor(recipe) { Sbatch = "/nonexistent/sbatch" }.Submit());
        Assert.Contains("/nonexistent/sbatch: could not be started", error.Message, StringComparison.Ordinal);
    }
}
