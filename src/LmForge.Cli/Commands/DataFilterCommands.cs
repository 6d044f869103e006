using System.CommandLine;
using LmForge.Data.LanguageId;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>`lmforge data train-langid | identify-language`, and `lmforge data run --executor slurm`.</summary>
public static class DataFilterCommands
{
    /// <summary>Adds this area's commands to the `data` group that DataCommands created.</summary>
    public static void AddTo(RootCommand root)
    {
        var data = root.Subcommands.First(c => c.Name == "data");
        data.Subcommands.Add(TrainLanguageIdCommand());
        data.Subcommands.Add(IdentifyLanguageCommand());
        SlurmCommands.ExtendRun(data.Subcommands.First(c => c.Name == "run"));
    }

    private static Command TrainLanguageIdCommand()
    {
        var defaults = new LanguageIdTrainingOptions();
        var input = new Option<string>("--input") { Description = "Directory with one subdirectory of UTF-8 .txt documents per language code (e.g. de/, en/)", Required = true };
        var output = new Option<string>("--output") { Description = "Model file to write", Required = true };
        var bucketBits = new Option<int>("--bucket-bits") { Description = "log2 of the hash buckets", DefaultValueFactory = _ => defaults.BucketBits };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training pieces", DefaultValueFactory = _ => defaults.Epochs };
        var report = new Option<string?>("--report") { Description = "Also write the held-out accuracy table (Markdown) here" };
        var markers = new Option<string?>("--reference-markers") { Description = "Comma-separated words of the reference language; a line of another language holding 2+ of them is dropped as untranslated" };
        var reference = new Option<string?>("--reference-language") { Description = "Language of the originals (e.g. en): lines of a translation found verbatim in its same-named original are dropped" };
        var command = new Command("train-langid", "Train a language identifier (hashed character 1-5-grams, softmax) and report held-out accuracy per language.");
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(bucketBits);
        command.Options.Add(epochs);
        command.Options.Add(report);
        command.Options.Add(reference);
        command.Options.Add(markers);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var options = defaults with { BucketBits = parse.GetValue(bucketBits), Epochs = parse.GetValue(epochs), ReferenceLanguage = parse.GetValue(reference),
                ReferenceMarkers = parse.GetValue(markers)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [] };
            if (options.Epochs < 1) throw new ArgumentOutOfRangeException("--epochs", options.Epochs, "--epochs must be >= 1");
            LanguageIdTrainingResult? result = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask("training", maxValue: 1);
                    result = LanguageIdTrainer.Train(parse.GetValue(input)!, options, new Progress(p => bar.Value = p));
                    bar.Value = 1;
                });
            result!.Model.Save(parse.GetValue(output)!);
            string table = result.ToMarkdown();
            Console.WriteLine(table);
            if (parse.GetValue(report) is { } reportPath) File.WriteAllText(reportPath, table);
            Console.WriteLine($"model: {parse.GetValue(output)} ({new FileInfo(parse.GetValue(output)!).Length / 1024} KiB, {result.Model.Languages.Count} languages)");
            return 0;
        }));
        return command;
    }

    private static Command IdentifyLanguageCommand()
    {
        var model = new Option<string?>("--model") { Description = "Model file (default: the built-in one)" };
        var files = new Argument<string[]>("files") { Description = "Text files to identify; '-' reads standard input" };
        var command = new Command("identify-language", "Print the most likely language and its probability for each file.");
        command.Options.Add(model);
        command.Arguments.Add(files);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var identifier = parse.GetValue(model) is { } path ? LanguageIdModel.Load(path) : LanguageIdModel.BuiltIn;
            foreach (var file in parse.GetValue(files)!)
            {
                string text = file == "-" ? Console.In.ReadToEnd() : File.Exists(file) ? File.ReadAllText(file) : throw new FileNotFoundException($"{file}: no such file", file);
                var prediction = identifier.Identify(text);
                Console.WriteLine($"{file}\t{prediction.Language}\t{prediction.Score:F3}");
            }
            return 0;
        }));
        return command;
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
