using System.Text;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Data.Writers;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Execution;

/// <summary>
/// Runs one task (stage, rank) of a recipe: the unit that the local executor runs on a thread per core and that a
/// Slurm job array runs as one array element (<c>lmforge data run-task RECIPE --stage S --rank R</c>). Layout under
/// the recipe's work_dir: <c>{stage}/completions/{rank}</c> (the marker, written last), <c>{stage}/stats/{rank}.json</c>,
/// <c>{stage}/logs/{rank}.log</c>, and <c>{stage}/stats.json</c> (all tasks merged). A task with a marker is done
/// and skipped on re-run; a task without one is redone from the start, overwriting its partial outputs.
/// </summary>
public sealed class TaskRunner(Recipe recipe)
{
    public Recipe Recipe { get; } = recipe;

    public string StageDirectory(RecipeStage stage) => Path.Combine(Recipe.WorkDirectory, stage.Name);

    public string MarkerPath(RecipeStage stage, int rank) => Path.Combine(StageDirectory(stage), "completions", $"{rank:D5}");

    public string TaskStatsPath(RecipeStage stage, int rank) => Path.Combine(StageDirectory(stage), "stats", $"{rank:D5}.json");

    public string LogPath(RecipeStage stage, int rank) => Path.Combine(StageDirectory(stage), "logs", $"{rank:D5}.log");

    public string MergedStatsPath(RecipeStage stage) => Path.Combine(StageDirectory(stage), "stats.json");

    public bool IsDone(RecipeStage stage, int rank) => File.Exists(MarkerPath(stage, rank));

    public int CountDone(RecipeStage stage) => Enumerable.Range(0, stage.Tasks).Count(r => IsDone(stage, r));

    /// <summary>Throws unless every task of every stage before <paramref name="stage"/> has its marker.</summary>
    public void EnsureEarlierStagesComplete(RecipeStage stage)
    {
        foreach (var earlier in Recipe.Stages.Take(stage.Index))
        {
            int done = CountDone(earlier);
            if (done < earlier.Tasks)
                throw new InvalidOperationException($"{Recipe.SourcePath}: stage '{stage.Name}' needs stage '{earlier.Name}' complete, but only {done} of its {earlier.Tasks} tasks are done");
        }
    }

    /// <summary>Runs the task unless its marker exists; returns false when it was already done.</summary>
    public bool Run(RecipeStage stage, int rank, TaskProgress? progress = null)
    {
        if ((uint)rank >= (uint)stage.Tasks)
            throw new ArgumentOutOfRangeException(nameof(rank), $"{Recipe.SourcePath}: stage '{stage.Name}' has {stage.Tasks} tasks, rank {rank} is out of range");
        if (IsDone(stage, rank)) return false;

        var logPath = LogPath(stage, rank);
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        using var log = new StreamWriter(logPath, append: false, Encoding.UTF8);
        var logGate = new Lock();
        void Log(string line)
        {
            lock (logGate) log.WriteLine(line);
        }

        var removedWriters = new Dictionary<string, JsonlShardWriter>(StringComparer.Ordinal);
        var removedGate = new Lock();
        Action<string, string, Document>? removedSink = null;
        if (stage.RemovedDirectory is { } removedDirectory)
        {
            removedSink = (step, reason, document) =>
            {
                lock (removedGate)
                {
                    if (!removedWriters.TryGetValue(step, out var writer))
                        removedWriters[step] = writer = new JsonlShardWriter(Path.Combine(removedDirectory, step, $"{rank:D5}.jsonl.gz"), gzip: true);
                    writer.Write(document, "removed_reason", reason);
                }
            };
        }

        var stats = new PipelineStats();
        var context = new TaskContext(rank, stage.Tasks, stats)
        {
            Log = Log,
            Progress = progress ?? new TaskProgress(),
            RemovedDocumentSink = removedSink,
        };
        Log($"task {stage.Name}/{rank} of {stage.Tasks} started {DateTimeOffset.UtcNow:O}");
        try
        {
            IEnumerable<Document> stream = [];
            foreach (var step in stage.CreateSteps()) stream = step.Run(stream, context);
            foreach (var _ in stream) { }
            foreach (var writer in removedWriters.Values) writer.Complete();
        }
        catch (Exception e)
        {
            try
            {
                Log($"task failed: {e}");
            }
            catch (IOException)
            {
                // The log cannot be written (a full disk): the task's failure is still the original exception.
            }
            throw new TaskFailedException($"stage '{stage.Name}' task {rank}: {e.Message} (log: {logPath})", e);
        }
        finally
        {
            foreach (var writer in removedWriters.Values) writer.Dispose();
        }

        AtomicFile.WriteText(TaskStatsPath(stage, rank), stats.ToJson());
        AtomicFile.WriteText(MarkerPath(stage, rank), $"{DateTimeOffset.UtcNow:O}\n");
        Log($"task finished {DateTimeOffset.UtcNow:O}");
        return true;
    }

    /// <summary>Adds the stats of every finished task of the stage and writes them to {stage}/stats.json.</summary>
    public PipelineStats MergeStats(RecipeStage stage)
    {
        var total = new PipelineStats();
        for (int rank = 0; rank < stage.Tasks; rank++)
        {
            var path = TaskStatsPath(stage, rank);
            if (!IsDone(stage, rank) || !File.Exists(path)) continue;
            StatsFile.Add(total, StatsFile.Parse(File.ReadAllText(path), path));
        }
        AtomicFile.WriteText(MergedStatsPath(stage), total.ToJson());
        return total;
    }
}

/// <summary>A task that threw: names the stage, the rank and the task's log file.</summary>
public sealed class TaskFailedException(string message, Exception inner) : Exception(message, inner);
