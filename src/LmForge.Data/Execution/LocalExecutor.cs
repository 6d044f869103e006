using System.Diagnostics;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Execution;

/// <summary>What a running recipe reports a few times a second.</summary>
public sealed record ExecutionProgress(
    string Stage, int StageIndex, int StageCount, int TasksTotal, int TasksDone, long Documents, long InputBytes, TimeSpan StageElapsed);

/// <summary>The outcome of a local run: merged stats per stage, and the tasks that failed (empty on success).</summary>
public sealed record ExecutionResult(IReadOnlyDictionary<string, PipelineStats> StageStats, IReadOnlyList<TaskFailedException> Failures)
{
    public bool Succeeded => Failures.Count == 0;
}

/// <summary>
/// Runs a recipe on this machine: stage after stage, each stage's unfinished tasks on <c>workers</c> threads
/// (one per core by default). Finished tasks (with a completion marker) are skipped, so re-running after a crash
/// redoes only what was lost. A failed task stops the run before the next stage; other tasks of its stage finish.
/// </summary>
public sealed class LocalExecutor(Recipe recipe, int workers = 0)
{
    private readonly int _workers = workers > 0 ? workers : Environment.ProcessorCount;

    public IProgress<ExecutionProgress>? Progress { get; init; }

    public ExecutionResult Run(CancellationToken cancellationToken = default)
    {
        var runner = new TaskRunner(recipe);
        var stageStats = new Dictionary<string, PipelineStats>(StringComparer.Ordinal);
        foreach (var stage in recipe.Stages)
        {
            var failures = RunStage(runner, stage, cancellationToken);
            stageStats[stage.Name] = runner.MergeStats(stage);
            if (failures.Count > 0) return new ExecutionResult(stageStats, failures);
        }
        return new ExecutionResult(stageStats, []);
    }

    private List<TaskFailedException> RunStage(TaskRunner runner, RecipeStage stage, CancellationToken cancellationToken)
    {
        var pending = Enumerable.Range(0, stage.Tasks).Where(r => !runner.IsDone(stage, r)).ToArray();
        int done = stage.Tasks - pending.Length;
        int next = -1;
        var failures = new List<TaskFailedException>();
        var progress = new TaskProgress();
        var clock = Stopwatch.StartNew();
        var threads = new Thread[Math.Min(_workers, pending.Length)];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                int i;
                while (!cancellationToken.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < pending.Length)
                {
                    try
                    {
                        runner.Run(stage, pending[i], progress);
                        Interlocked.Increment(ref done);
                    }
                    catch (Exception e)
                    {
                        // The runner wraps what its steps throw; writing the log, stats or marker can fail too
                        // (a full disk, a path that is a directory), and that is this task's failure, not the run's.
                        var failure = e as TaskFailedException ?? new TaskFailedException($"stage '{stage.Name}' task {pending[i]}: {e.Message}", e);
                        lock (failures) failures.Add(failure);
                    }
                }
            }) { IsBackground = true, Name = $"lmforge-data-{stage.Name}-{t}" };
            threads[t].Start();
        }
        void Report() => Progress?.Report(new ExecutionProgress(stage.Name, stage.Index, recipe.Stages.Count, stage.Tasks,
            Volatile.Read(ref done), progress.Documents, progress.InputBytes, clock.Elapsed));
        foreach (var thread in threads)
        {
            while (!thread.Join(250)) Report();
        }
        Report();
        cancellationToken.ThrowIfCancellationRequested();
        return failures;
    }
}
