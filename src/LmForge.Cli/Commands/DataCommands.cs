using System.CommandLine;
using LmForge.Data.Execution;
using LmForge.Data.Extraction;
using LmForge.Data.Recipes;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>`lmforge data ...`: run data recipes (locally or one task at a time for a cluster) and measure extraction.</summary>
public static class DataCommands
{
    public static Command Create()
    {
        var data = new Command("data", "Clean web and text data with a recipe: read, extract, filter, deduplicate, anonymize, write.");
        data.Subcommands.Add(RunCommand());
        data.Subcommands.Add(RunTaskCommand());
        data.Subcommands.Add(MergeStatsCommand());
        data.Subcommands.Add(ValidateCommand());
        data.Subcommands.Add(StepsCommand());
        data.Subcommands.Add(EvalExtractionCommand());
        return data;
    }

    private static Argument<string> RecipeArgument() => new("recipe") { Description = "Recipe JSON file" };

    private static Command RunCommand()
    {
        var recipeArgument = RecipeArgument();
        var workers = new Option<int>("--workers") { Description = "Tasks run at once (default: one per core)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("run", "Run every stage of a recipe on this machine; finished tasks are skipped (resume).");
        command.Arguments.Add(recipeArgument);
        command.Options.Add(workers);
        command.SetAction(parse => Guard(() =>
        {
            var recipe = Recipe.Load(parse.GetValue(recipeArgument)!);
            int workerCount = parse.GetValue(workers);
            if (workerCount < 1) throw new RecipeException($"--workers: expected a positive integer, got {workerCount}");
            ExecutionResult? result = null;
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                         new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var bars = recipe.Stages.ToDictionary(s => s.Name, s => ctx.AddTask(Markup.Escape(s.Name), autoStart: false, maxValue: s.Tasks));
                    var progress = new TrainingCommands.SynchronousProgress<ExecutionProgress>(p =>
                    {
                        var bar = bars[p.Stage];
                        if (!bar.IsStarted) bar.StartTask();
                        bar.Value = p.TasksDone;
                        double seconds = Math.Max(p.StageElapsed.TotalSeconds, 1e-3);
                        bar.Description = Markup.Escape(
                            $"{p.Stage} [{p.StageIndex + 1}/{p.StageCount}] tasks {p.TasksDone}/{p.TasksTotal}  " +
                            $"{p.Documents / seconds:N0} docs/s  {p.InputBytes / seconds / 1e6:N1} MB/s");
                    });
                    result = new LocalExecutor(recipe, workerCount) { Progress = progress }.Run();
                });
            foreach (var (stage, stats) in result!.StageStats)
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(stage)}: stats in {Markup.Escape(new TaskRunner(recipe).MergedStatsPath(recipe.Stage(stage)))}[/]");
            foreach (var failure in result.Failures) AnsiConsole.MarkupLine($"[red]{Markup.Escape(failure.Message)}[/]");
            return result.Succeeded ? 0 : 1;
        }));
        return command;
    }

    private static Command RunTaskCommand()
    {
        var recipeArgument = RecipeArgument();
        var stage = new Option<string>("--stage") { Description = "Stage name", Required = true };
        var rank = new Option<int>("--rank") { Description = "Task index, 0 .. tasks-1 (e.g. $SLURM_ARRAY_TASK_ID)", Required = true };
        var worldSize = new Option<int?>("--world-size") { Description = "Number of tasks; must equal the stage's \"tasks\" when given" };
        var command = new Command("run-task", "Run one task of one stage (what a cluster job array element runs); skipped if already done.");
        command.Arguments.Add(recipeArgument);
        command.Options.Add(stage);
        command.Options.Add(rank);
        command.Options.Add(worldSize);
        command.SetAction(parse => Guard(() =>
        {
            var recipe = Recipe.Load(parse.GetValue(recipeArgument)!);
            var recipeStage = recipe.Stage(parse.GetValue(stage)!);
            if (parse.GetValue(worldSize) is int w && w != recipeStage.Tasks)
                throw new RecipeException($"--world-size: {w} does not match stage '{recipeStage.Name}' tasks = {recipeStage.Tasks} in {recipe.SourcePath}");
            var runner = new TaskRunner(recipe);
            runner.EnsureEarlierStagesComplete(recipeStage);
            bool ran = runner.Run(recipeStage, parse.GetValue(rank));
            Console.WriteLine(ran ? $"{recipeStage.Name}/{parse.GetValue(rank)}: done" : $"{recipeStage.Name}/{parse.GetValue(rank)}: already done, skipped");
            return 0;
        }));
        return command;
    }

    private static Command MergeStatsCommand()
    {
        var recipeArgument = RecipeArgument();
        var stage = new Option<string>("--stage") { Description = "Stage name", Required = true };
        var command = new Command("merge-stats", "Add up the stats of a stage's finished tasks into {work_dir}/{stage}/stats.json.");
        command.Arguments.Add(recipeArgument);
        command.Options.Add(stage);
        command.SetAction(parse => Guard(() =>
        {
            var recipe = Recipe.Load(parse.GetValue(recipeArgument)!);
            var recipeStage = recipe.Stage(parse.GetValue(stage)!);
            var runner = new TaskRunner(recipe);
            runner.MergeStats(recipeStage);
            Console.WriteLine($"{runner.CountDone(recipeStage)} of {recipeStage.Tasks} tasks done; stats in {runner.MergedStatsPath(recipeStage)}");
            return 0;
        }));
        return command;
    }

    private static Command ValidateCommand()
    {
        var recipeArgument = RecipeArgument();
        var command = new Command("validate", "Check a recipe (fields, step types, parameters, input paths) without running it.");
        command.Arguments.Add(recipeArgument);
        command.SetAction(parse => Guard(() =>
        {
            var recipe = Recipe.Load(parse.GetValue(recipeArgument)!);
            foreach (var stage in recipe.Stages)
                Console.WriteLine($"{stage.Name}: {stage.Tasks} tasks: {string.Join(" -> ", stage.StepTypes)}");
            return 0;
        }));
        return command;
    }

    private static Command StepsCommand()
    {
        var command = new Command("steps", "List the step types a recipe may use.");
        command.SetAction(_ =>
        {
            foreach (var type in StepRegistry.Types) Console.WriteLine(type);
            return 0;
        });
        return command;
    }

    private static Command EvalExtractionCommand()
    {
        var html = new Option<string?>("--html") { Description = "Directory of {id}.html.gz (or .html) pages" };
        var truth = new Option<string>("--truth") { Description = "Ground truth JSON: {id: {\"articleBody\": text}}", Required = true };
        var predictions = new Option<string?>("--predictions") { Description = "Score this predictions file (same format) instead of running our extractor" };
        var output = new Option<string?>("--output") { Description = "Write our extractor's predictions here (benchmark output format)" };
        var command = new Command("eval-extraction",
            "Score main-text extraction with the article-extraction-benchmark method (4-gram shingles, per-document precision/recall averaged).");
        command.Options.Add(html);
        command.Options.Add(truth);
        command.Options.Add(predictions);
        command.Options.Add(output);
        command.SetAction(parse => Guard(() =>
        {
            var truthPath = parse.GetValue(truth)!;
            if (parse.GetValue(predictions) is { } predictionsPath)
            {
                var score = ShingleScore.Evaluate(ExtractionBenchmark.ReadArticleBodies(truthPath), ExtractionBenchmark.ReadArticleBodies(predictionsPath));
                PrintScore(predictionsPath, score);
                return 0;
            }
            var htmlDirectory = parse.GetValue(html) ?? throw new RecipeException("--html: required unless --predictions is given");
            var extractor = new HtmlTextExtractor();
            ExtractionBenchmark.Report? report = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask("extracting", maxValue: 1);
                    report = ExtractionBenchmark.Run(htmlDirectory, truthPath, extractor.Extract,
                        new TrainingCommands.SynchronousProgress<(int Done, int Total)>(p => { bar.MaxValue = p.Total; bar.Value = p.Done; }));
                });
            PrintScore("lmforge", report!.Score);
            double seconds = report.ExtractionTime.TotalSeconds;
            Console.WriteLine($"speed: {report.Score.Documents / seconds:N1} pages/s, {report.HtmlBytes / seconds / 1e6:N2} MB/s of HTML (one thread)");
            if (parse.GetValue(output) is { } outputPath) ExtractionBenchmark.WritePredictions(outputPath, report.Predictions);
            return 0;
        }));
        return command;
    }

    private static void PrintScore(string name, ShingleScore.Result score) =>
        Console.WriteLine($"{name}: F1 {score.F1:F3}  precision {score.Precision:F3}  recall {score.Recall:F3}  accuracy {score.Accuracy:F3}  ({score.Documents} documents)");

    // Expected failures (bad recipe, bad input, failed task) print one line; anything else is a bug and keeps its trace.
    internal static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is RecipeException or InvalidOperationException or TaskFailedException or IOException or InvalidDataException or ArgumentOutOfRangeException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
