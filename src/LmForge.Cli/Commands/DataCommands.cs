using System.CommandLine;
using LmForge.Data.Execution;
using LmForge.Data.Extraction;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Data.SampleCrawl;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>`lmforge data ...`: run data recipes (locally or one task at a time for a cluster) and measure extraction.</summary>
public static class DataCommands
{
    public static Command Create()
    {
        var data = new Command("data", "Clean web and text data with a recipe: read, extract, filter, deduplicate, anonymize, write.");
        data.Subcommands.Add(SampleCrawlCommand());
        data.Subcommands.Add(InspectCommand());
        data.Subcommands.Add(ExtractCommand());
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
        command.SetAction(parse => CliErrors.Run(() =>
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
            PrintSummary(recipe, result);
            foreach (var failure in result.Failures) AnsiConsole.MarkupLine($"[red]{Markup.Escape(failure.Message)}[/]");
            return result.Succeeded ? 0 : 1;
        }));
        return command;
    }

    // The table a run ends with: every step's documents and characters, removals per rule, then the totals a user
    // asks about first and where to look at the output.
    private static void PrintSummary(Recipe recipe, ExecutionResult result)
    {
        var summary = RunSummary.From(recipe, result);
        static string Chars(long n) => n >= 10_000_000 ? $"{n / 1e6:N0} M" : n >= 10_000 ? $"{n / 1e3:N0} k" : n.ToString("N0");
        // Plain text, not a Spectre table: it must read the same in a log or a pipe (80 columns).
        Console.WriteLine();
        Console.WriteLine($"{recipe.Name}: documents and characters per stage, step and rule");
        int width = Math.Max(24, summary.Steps.Max(st => Math.Max(st.Step.Length + 2, st.RemovedByRule.Select(r => r.Rule.Length + 4).DefaultIfEmpty(0).Max())) + 1);
        Console.WriteLine($"{"step / rule".PadRight(width)} {"docs in",7} {"kept",7} {"removed",7} {"chars in",10} {"chars kept",11}");
        string? stage = null;
        foreach (var step in summary.Steps)
        {
            if (step.Stage != stage) Console.WriteLine(stage = step.Stage);
            Console.WriteLine($"{("  " + step.Step).PadRight(width)} {step.DocumentsIn,7:N0} {step.DocumentsKept,7:N0} {step.DocumentsRemoved,7:N0} {Chars(step.CharactersIn),10} {Chars(step.CharactersKept),11}");
            foreach (var (rule, documents) in step.RemovedByRule)
                Console.WriteLine($"{("    " + rule).PadRight(width)} {"",7} {"",7} {documents,7:N0}");
        }
        Console.WriteLine();
        Console.WriteLine($"documents in:       {summary.DocumentsRead:N0} ({Chars(summary.CharactersRead)} characters)");
        Console.WriteLine($"documents out:      {summary.DocumentsOut:N0} ({Chars(summary.CharactersOut)} characters)");
        Console.WriteLine($"duplicates removed: {summary.DuplicatesRemoved:N0}");
        Console.WriteLine($"PII replaced:       {summary.EmailsReplaced:N0} e-mail addresses, {summary.IpsReplaced:N0} IP addresses in {summary.DocumentsWithPii:N0} documents");
        if (summary.Languages.Count > 0)
            Console.WriteLine($"languages found:    {string.Join(", ", summary.Languages.Select(l => $"{l.Language} {l.Documents:N0}"))}");
        if (summary.CleanOutput is { } clean) Console.WriteLine($"clean output:       {Shown(clean)} (look at it: lmforge data inspect {Shown(Path.Combine(clean, "00000.jsonl.gz"))})");
        foreach (var removed in summary.RemovedDirectories)
        {
            var steps = Directory.Exists(removed) ? Directory.GetDirectories(removed).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList() : [];
            Console.WriteLine($"removed documents:  {Shown(removed)}/<step>/ (each with its removed_reason){(steps.Count > 0 ? ": " + string.Join(", ", steps) : "")}");
        }
    }

    // Paths under the current directory are shown relative to it, as the user typed them.
    private static string Shown(string path) =>
        Path.GetRelativePath(Environment.CurrentDirectory, path) is var r && !r.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(r) ? r : path;

    private static Command SampleCrawlCommand()
    {
        var output = new Option<string>("--out") { Description = "Directory for the WARC files (e.g. examples/crawl, where examples/fineweb-recipe.json reads)", Required = true };
        var pages = new Option<int>("--pages") { Description = "Content pages, about half English (planted duplicates, boilerplate and spam pages come on top)", DefaultValueFactory = _ => 160 };
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed gives the same files", DefaultValueFactory = _ => 1 };
        var files = new Option<int>("--files") { Description = "WARC files to spread the records over", DefaultValueFactory = _ => 4 };
        var command = new Command("sample-crawl",
            "Build a small realistic crawl (WARC/1.1, gzip per record) from the Debian Reference pages Debian packages install, " +
            "with planted duplicates, near duplicates, e-mail and IP addresses, boilerplate pages and legacy charsets.");
        command.Options.Add(output);
        command.Options.Add(pages);
        command.Options.Add(seed);
        command.Options.Add(files);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            SampleCrawlReport? report = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var bars = new Dictionary<string, ProgressTask>();
                    var progress = new TrainingCommands.SynchronousProgress<SampleCrawlProgress>(p =>
                    {
                        if (!bars.TryGetValue(p.Phase, out var bar)) bars[p.Phase] = bar = ctx.AddTask(p.Phase, maxValue: Math.Max(1, p.Total));
                        bar.MaxValue = Math.Max(1, p.Total);
                        bar.Value = p.Done;
                    });
                    report = new SampleCrawlBuilder(new SampleCrawlOptions
                    {
                        OutputDirectory = parse.GetValue(output)!, Pages = parse.GetValue(pages), Seed = parse.GetValue(seed), Files = parse.GetValue(files),
                    }) { Progress = progress }.Build();
                });
            var r = report!;
            Console.WriteLine($"{r.Pages.Count:N0} pages in {r.Files.Count} WARC files ({r.Bytes / 1e6:N1} MB) under {Shown(r.OutputDirectory)}:");
            int sections = r.Count(SampleCrawlReport.Content), asked = parse.GetValue(pages);
            Console.WriteLine($"  {sections:N0} Debian Reference sections{(sections < asked ? $" (all the packages have; {asked:N0} asked)" : "")} in {string.Join(", ", r.Pages.Where(p => p.Kind == SampleCrawlReport.Content).GroupBy(p => p.Language).OrderBy(g => Array.IndexOf(SampleCrawlBuilder.Languages, g.Key)).Select(g => $"{g.Key} {g.Count()}"))}");
            Console.WriteLine($"  planted: {r.Count(SampleCrawlReport.ExactDuplicate)} exact and {r.Count(SampleCrawlReport.NearDuplicate)} near duplicates, " +
                $"{r.Pages.Count(p => p.Pii.Count > 0)} pages with {r.Pages.Sum(p => p.Emails)} e-mail and {r.Pages.Sum(p => p.Ips)} IP addresses, " +
                $"{r.Count(SampleCrawlReport.Boilerplate)} boilerplate-only pages, {r.Count(SampleCrawlReport.BlockedUrl)} pages with blocked URLs");
            Console.WriteLine($"  charsets: {string.Join(", ", r.Pages.GroupBy(p => p.Charset).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"))}");
            Console.WriteLine($"  every page and what was planted in it: {Shown(r.ManifestPath)}");
            Console.WriteLine($"look at a record: lmforge data inspect {Shown(r.Files[0])} --record 3");
            return 0;
        }));
        return command;
    }

    private static Command InspectCommand()
    {
        var file = new Argument<string>("file") { Description = "A WARC file (.warc, .warc.gz) or a JSONL file (.jsonl, .jsonl.gz)" };
        var record = new Option<int?>("--record") { Description = "Record (WARC) or document (JSONL) number, from 1 (default: a WARC's first response, a JSONL's first document)" };
        var full = new Option<bool>("--full") { Description = "Print the whole text instead of its first 3,000 characters" };
        var command = new Command("inspect", "Show one record of a WARC file (headers, HTTP headers, charset, extracted text) or one document of a JSONL file (metadata and text).");
        command.Arguments.Add(file);
        command.Options.Add(record);
        command.Options.Add(full);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var inspected = RecordInspector.Inspect(parse.GetValue(file)!, parse.GetValue(record));
            Console.WriteLine(inspected.Heading);
            foreach (var (section, fields) in inspected.Sections)
            {
                Console.WriteLine();
                Console.WriteLine($"{section}:");
                int width = fields.Count == 0 ? 0 : fields.Max(f => f.Name.Length);
                foreach (var (name, value) in fields) Console.WriteLine($"  {(name + (name.Length > 0 ? ":" : "")).PadRight(width + 1)} {value}");
            }
            Console.WriteLine();
            string text = inspected.Text;
            const int shown = 3000;
            bool cut = !parse.GetValue(full) && text.Length > shown;
            Console.WriteLine($"{inspected.TextLabel} ({text.Length:N0} characters{(cut ? $", the first {shown:N0} shown; --full for all" : "")}):");
            Console.WriteLine(cut ? text[..shown] + " [...]" : text);
            return 0;
        }));
        return command;
    }

    private static Command ExtractCommand()
    {
        var page = new Argument<string?>("page") { Description = "A saved web page (.html)", Arity = ArgumentArity.ZeroOrOne };
        var url = new Option<string?>("--url") { Description = "The page's address, shown with the text (nothing is fetched)" };
        var format = new Option<string>("--format") { Description = "text (default) or json", DefaultValueFactory = _ => "text" };
        var warc = new Option<string?>("--warc") { Description = "Read the page from this WARC file (.warc, .warc.gz) instead" };
        var record = new Option<int?>("--record") { Description = "With --warc: the record number, from 1 (default: the first response)" };
        var explain = new Option<bool>("--explain") { Description = "Also show what was removed before scoring, which blocks were chosen and what was dropped inside them, and why" };
        var command = new Command("extract",
            "Print the main text of one page as the pipeline's html_extractor keeps it (same charset handling), from a file or a WARC record.");
        command.Arguments.Add(page);
        foreach (var option in new Option[] { url, format, warc, record, explain }) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string? pagePath = parse.GetValue(page), warcPath = parse.GetValue(warc);
            string outputFormat = parse.GetValue(format)!;
            if (outputFormat is not ("text" or "json")) throw new ArgumentException($"--format: expected text or json, got '{outputFormat}'");
            if ((pagePath is null) == (warcPath is null)) throw new ArgumentException("give either a page file or --warc FILE [--record N], not both or neither");
            if (pagePath is not null && parse.GetValue(record) is not null) throw new ArgumentException("--record: only with --warc");
            var html = pagePath is not null ? HtmlPage.FromFile(pagePath, parse.GetValue(url)) : HtmlPage.FromWarc(warcPath!, parse.GetValue(record), parse.GetValue(url));
            string source = pagePath ?? $"{warcPath} record {parse.GetValue(record)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(first response)"}";
            var explanation = parse.GetValue(explain) ? new ExtractionExplanation() : null;
            string text = new HtmlTextExtractor().Extract(html.Html, explanation);
            if (outputFormat == "json") ExtractionReport.WriteJson(Console.OpenStandardOutput(), source, html, text, explanation);
            else Console.Write(ExtractionReport.Text(source, html, text, explanation));
            return 0;
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
        command.SetAction(parse => CliErrors.Run(() =>
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
        command.SetAction(parse => CliErrors.Run(() =>
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
        command.SetAction(parse => CliErrors.Run(() =>
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
        command.SetAction(parse => CliErrors.Run(() =>
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
}
