using System.Diagnostics;
using System.Globalization;
using System.Text;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Execution;

/// <summary>How Slurm jobs are shaped and how a node starts LmForge.</summary>
public sealed record SlurmOptions
{
    /// <summary>The command that starts the `lmforge` tool on a node, e.g. "lmforge" or "dotnet /opt/lmforge/lmforge.dll".
    /// Default: the running program as it was started (dotnet + its .dll, or its apphost).</summary>
    public string? LmforgeCommand { get; init; }
    public string? Partition { get; init; }
    /// <summary>Per-task time limit in Slurm's syntax (e.g. "02:00:00").</summary>
    public string? TimeLimit { get; init; }
    public int CpusPerTask { get; init; } = 1;
    /// <summary>Memory per task in Slurm's syntax (e.g. "4G").</summary>
    public string? Memory { get; init; }
    /// <summary>At most this many tasks of one array at once (sbatch --array=...%N); 0: no limit.</summary>
    public int MaxParallelTasks { get; init; }
    /// <summary>Lines added verbatim to every script after the #SBATCH block (module loads, exports).</summary>
    public IReadOnlyList<string> Setup { get; init; } = [];
}

/// <summary>One stage as submitted: its script, the ranks it runs and the job id (null in a dry run).</summary>
public sealed record SlurmStageSubmission(string Stage, string ScriptPath, IReadOnlyList<int> Ranks, string? JobId, string SbatchCommand);

/// <summary>
/// Runs a recipe on a Slurm cluster: one job array per stage (`sbatch --array`), each element running
/// `lmforge data run-task RECIPE --stage S --rank $SLURM_ARRAY_TASK_ID --world-size N` (the per-task entry point the
/// local executor uses, with the same completion markers), and each stage's array depending on the previous one
/// (`--dependency=afterok:JOB`). Tasks already done (marker present) are left out of the array; a fully done stage
/// is not submitted. Scripts go to {work_dir}/slurm/{stage}.sbatch and task logs to {work_dir}/{stage}/slurm/.
/// </summary>
public sealed class SlurmExecutor(Recipe recipe, SlurmOptions? options = null)
{
    private readonly SlurmOptions _options = options ?? new SlurmOptions();

    /// <summary>The sbatch program (a full path or a name on PATH).</summary>
    public string Sbatch { get; init; } = "sbatch";

    public string ScriptDirectory => Path.Combine(recipe.WorkDirectory, "slurm");

    /// <summary>Writes the scripts and, unless dryRun, submits them in order; returns what was (or would be) submitted.</summary>
    public IReadOnlyList<SlurmStageSubmission> Submit(bool dryRun = false)
    {
        var runner = new TaskRunner(recipe);
        var submissions = new List<SlurmStageSubmission>();
        string? previousJob = null;
        foreach (var stage in recipe.Stages)
        {
            var ranks = Enumerable.Range(0, stage.Tasks).Where(r => !runner.IsDone(stage, r)).ToArray();
            if (ranks.Length == 0) continue;
            string script = WriteScript(stage, ranks);
            var arguments = new List<string> { "--parsable" };
            if (previousJob is not null) arguments.Add($"--dependency=afterok:{previousJob}");
            arguments.Add(script);
            string commandLine = Sbatch + " " + string.Join(' ', arguments.Select(Quote));
            string? jobId = null;
            if (!dryRun)
            {
                jobId = RunSbatch(arguments);
                previousJob = jobId;
            }
            else previousJob = $"<job of {stage.Name}>";
            submissions.Add(new SlurmStageSubmission(stage.Name, script, ranks, jobId, commandLine));
        }
        return submissions;
    }

    /// <summary>Waits until the submitted jobs have left the queue; then every task must have its completion marker.
    /// Jobs left waiting on a failed dependency are cancelled. Writes {work_dir}/{stage}/stats.json for every stage whose
    /// tasks are all done (as the local executor does) and returns those merged stats; throws naming the first
    /// unfinished stage and its task logs.</summary>
    public IReadOnlyDictionary<string, PipelineStats> Wait(IReadOnlyList<SlurmStageSubmission> submissions, TimeSpan timeout, IProgress<(int Done, int Total)>? progress = null)
    {
        var jobs = submissions.Where(s => s.JobId is not null).Select(s => s.JobId!).ToArray();
        var runner = new TaskRunner(recipe);
        int total = recipe.Stages.Sum(s => s.Tasks);
        var clock = Stopwatch.StartNew();
        while (jobs.Length > 0)
        {
            progress?.Report((recipe.Stages.Sum(runner.CountDone), total));
            var queue = RunTool("squeue", ["-h", "-j", string.Join(',', jobs), "-o", "%i %T %r"], allowFailure: true);
            var lines = queue.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length == 0) break;
            if (lines.All(l => l.Contains("DependencyNeverSatisfied", StringComparison.Ordinal)))
            {
                RunTool("scancel", jobs, allowFailure: true);
                break;
            }
            if (clock.Elapsed > timeout)
            {
                RunTool("scancel", jobs, allowFailure: true);
                throw new InvalidOperationException($"slurm jobs {string.Join(',', jobs)} still queued after {timeout.TotalSeconds:F0} s; cancelled");
            }
            Thread.Sleep(500);
        }
        progress?.Report((recipe.Stages.Sum(runner.CountDone), total));
        var stageStats = new Dictionary<string, PipelineStats>(StringComparer.Ordinal);
        foreach (var stage in recipe.Stages)
        {
            var missing = Enumerable.Range(0, stage.Tasks).Where(r => !runner.IsDone(stage, r)).ToArray();
            if (missing.Length > 0)
                throw new TaskFailedException($"stage {stage.Name}: task(s) {string.Join(',', missing)} did not finish; see {Path.Combine(runner.StageDirectory(stage), "slurm")} and {Path.Combine(runner.StageDirectory(stage), "logs")}", new InvalidOperationException("slurm task failed"));
            stageStats[stage.Name] = runner.MergeStats(stage);
        }
        return stageStats;
    }

    private string WriteScript(RecipeStage stage, int[] ranks)
    {
        string logDirectory = Path.Combine(recipe.WorkDirectory, stage.Name, "slurm");
        Directory.CreateDirectory(logDirectory);
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --job-name={Sanitize(recipe.Name)}-{Sanitize(stage.Name)}\n");
        string array = ArraySpec(ranks);
        if (_options.MaxParallelTasks > 0) array += $"%{_options.MaxParallelTasks}";
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --array={array}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --ntasks=1\n#SBATCH --cpus-per-task={_options.CpusPerTask}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --output={Path.Combine(logDirectory, "%A_%a.out")}\n");
        if (_options.Partition is { } partition) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --partition={partition}\n");
        if (_options.TimeLimit is { } time) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --time={time}\n");
        if (_options.Memory is { } memory) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --mem={memory}\n");
        sb.Append("set -euo pipefail\n");
        foreach (var line in _options.Setup) sb.Append(line).Append('\n');
        sb.Append(CultureInfo.InvariantCulture,
            $"exec {LmforgeCommand()} data run-task {Quote(recipe.SourcePath)} --stage {Quote(stage.Name)} --rank \"$SLURM_ARRAY_TASK_ID\" --world-size {stage.Tasks}\n");
        string path = Path.Combine(ScriptDirectory, $"{stage.Name}.sbatch");
        Directory.CreateDirectory(ScriptDirectory);
        AtomicFile.WriteText(path, sb.ToString());
        return path;
    }

    /// <summary>Ranks as Slurm's array syntax with runs folded: 0-3,5,7-9.</summary>
    public static string ArraySpec(IReadOnlyList<int> ranks)
    {
        var parts = new List<string>();
        for (int i = 0; i < ranks.Count;)
        {
            int j = i;
            while (j + 1 < ranks.Count && ranks[j + 1] == ranks[j] + 1) j++;
            parts.Add(j == i ? ranks[i].ToString(CultureInfo.InvariantCulture) : $"{ranks[i]}-{ranks[j]}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    private string LmforgeCommand()
    {
        if (_options.LmforgeCommand is { } command) return command;
        string process = Environment.ProcessPath ?? "lmforge";
        string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && entry is not null ? $"{Quote(process)} {Quote(entry)}" : Quote(process);
    }

    private string RunSbatch(List<string> arguments)
    {
        string output = RunTool(Sbatch, arguments, allowFailure: false).Trim();
        // --parsable prints "jobid" or "jobid;cluster".
        string id = output.Split(';')[0];
        if (id.Length == 0 || !id.All(char.IsAsciiDigit)) throw new InvalidOperationException($"{Sbatch}: expected a job id from --parsable, got '{output}'");
        return id;
    }

    private static string RunTool(string program, IEnumerable<string> arguments, bool allowFailure)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{program}: could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{program}: could not be started ({e.Message}); is Slurm's client installed and on PATH?", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0 && !allowFailure)
                throw new InvalidOperationException($"{program} {string.Join(' ', arguments)}: exit code {process.ExitCode}: {stderr.Result.Trim().ReplaceLineEndings(" ")}");
            return stdout;
        }
    }

    private static string Sanitize(string name) => new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());

    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ':' or '=' or ',') ? s : "'" + s.Replace("'", "'\\''") + "'";
}
