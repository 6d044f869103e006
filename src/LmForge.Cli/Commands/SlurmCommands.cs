using System.CommandLine;
using System.CommandLine.Invocation;
using LmForge.Data.Execution;
using LmForge.Data.Recipes;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>Adds `--executor slurm` (and its job options) to `lmforge data run`; `--executor local` keeps DataCommands' run.</summary>
public static class SlurmCommands
{
    public static void ExtendRun(Command run)
    {
        var localAction = run.Action as SynchronousCommandLineAction
            ?? throw new InvalidOperationException("`data run` has no synchronous action to extend");
        var recipeArgument = (Argument<string>)run.Arguments[0];
        var executor = new Option<string>("--executor") { Description = "local (this machine) or slurm (job arrays with dependencies)", DefaultValueFactory = _ => "local" };
        executor.AcceptOnlyFromAmong("local", "slurm");
        var dryRun = new Option<bool>("--dry-run") { Description = "slurm: write the sbatch scripts and print the commands without submitting" };
        var wait = new Option<bool>("--wait") { Description = "slurm: wait until the jobs finish and check every task's completion marker" };
        var partition = new Option<string?>("--partition") { Description = "slurm: partition" };
        var time = new Option<string?>("--time") { Description = "slurm: time limit per task (e.g. 02:00:00)" };
        var cpus = new Option<int>("--cpus-per-task") { Description = "slurm: CPUs per task", DefaultValueFactory = _ => 1 };
        var memory = new Option<string?>("--mem") { Description = "slurm: memory per task (e.g. 4G)" };
        var lmforge = new Option<string?>("--lmforge-command") { Description = "slurm: how a node starts lmforge (default: this program's path)" };
        foreach (var option in new Option[] { executor, dryRun, wait, partition, time, cpus, memory, lmforge }) run.Options.Add(option);

        run.SetAction(parse =>
        {
            if (parse.GetValue(executor) != "slurm") return localAction.Invoke(parse);
            return CliErrors.Run(() =>
            {
                var recipe = Recipe.Load(parse.GetValue(recipeArgument)!);
                if (parse.GetValue(cpus) < 1) throw new RecipeException($"--cpus-per-task: expected a positive integer, got {parse.GetValue(cpus)}");
                var slurm = new SlurmExecutor(recipe, new SlurmOptions
                {
                    Partition = parse.GetValue(partition),
                    TimeLimit = parse.GetValue(time),
                    CpusPerTask = parse.GetValue(cpus),
                    Memory = parse.GetValue(memory),
                    LmforgeCommand = parse.GetValue(lmforge),
                });
                bool dry = parse.GetValue(dryRun);
                var submissions = slurm.Submit(dry);
                if (submissions.Count == 0) Console.WriteLine("every task of every stage is already done");
                foreach (var s in submissions)
                    Console.WriteLine(dry ? s.SbatchCommand : $"{s.Stage}: job {s.JobId} ({s.Ranks.Count} tasks) {s.ScriptPath}");
                if (dry || !parse.GetValue(wait)) return 0;
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var bar = ctx.AddTask("slurm tasks done", maxValue: recipe.Stages.Sum(s => s.Tasks));
                        slurm.Wait(submissions, TimeSpan.FromDays(7), new Progress(p => bar.Value = p.Done));
                    });
                var runner = new TaskRunner(recipe);
                foreach (var stage in recipe.Stages) Console.WriteLine($"{stage.Name}: stats in {runner.MergedStatsPath(stage)}");
                return 0;
            });
        });
    }

    private sealed class Progress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
