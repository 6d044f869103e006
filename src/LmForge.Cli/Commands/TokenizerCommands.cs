using System.CommandLine;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Training;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>
/// <c>lmforge tokenizer train|encode|decode</c> and <c>lmforge tokenize</c>: thin front ends over
/// <see cref="BpeTrainer"/>, the tokenizer and the shard writer; all logic lives in LmForge.Tokenization.
/// </summary>
public static class TokenizerCommands
{
    public static IEnumerable<Command> Create()
    {
        var tokenizer = new Command("tokenizer", "Train a byte-level BPE tokenizer, or encode/decode text with one.");
        tokenizer.Subcommands.Add(CreateTrain());
        yield return tokenizer;
    }

    static Command CreateTrain()
    {
        var input = new Argument<string>("input") { Description = "Corpus: a .txt/.jsonl/.ndjson file (optionally .gz) or a directory of them" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the Hugging Face tokenizer.json", DefaultValueFactory = _ => "tokenizer.json" };
        var vocab = new Option<int>("--vocab-size") { Description = "Total vocabulary: 256 bytes + merges + special tokens", DefaultValueFactory = _ => 32768 };
        var chat = new Option<bool>("--chat") { Description = "Add the chat markers <|im_start|>, <|im_sep|>, <|im_end|> after <|endoftext|>" };
        var specials = new Option<string[]>("--special") { Description = "Extra special tokens (after <|endoftext|> and the chat markers)", AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { Description = "Pre-tokenizing threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("train", "Train a byte-level BPE vocabulary on a corpus and save it as tokenizer.json.");
        command.Arguments.Add(input);
        foreach (var option in new Option[] { output, vocab, chat, specials, threads })
            command.Options.Add(option);
        command.SetAction(parse => Run(() =>
        {
            var specialTokens = new List<string> { BpeTrainerOptions.EndOfText };
            if (parse.GetValue(chat))
                specialTokens.AddRange(BpeTrainerOptions.ChatSpecialTokens);
            specialTokens.AddRange(parse.GetValue(specials) ?? []);
            string outputPath = parse.GetValue(output)!;
            TrainedBpe? bpe = null;
            var elapsed = System.Diagnostics.Stopwatch.StartNew();
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new TransferSpeedColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var counting = context.AddTask("pre-tokenize");
                    var merging = context.AddTask("merges", autoStart: false);
                    var progress = new CallbackProgress<BpeTrainingProgress>(p =>
                    {
                        if (p.Phase == BpeTrainingPhase.CountingWords)
                        {
                            counting.MaxValue = Math.Max(1, p.TotalBytes);
                            counting.Value = p.BytesRead;
                            return;
                        }
                        counting.Value = counting.MaxValue;
                        counting.StopTask();
                        if (!merging.IsStarted)
                            merging.StartTask();
                        merging.MaxValue = Math.Max(1, p.MergesTarget);
                        merging.Value = p.MergesDone;
                        if (p.Phase == BpeTrainingPhase.Done)
                            merging.StopTask();
                    });
                    var options = new BpeTrainerOptions
                    {
                        VocabSize = parse.GetValue(vocab),
                        SpecialTokens = specialTokens,
                        Threads = parse.GetValue(threads),
                        Progress = progress,
                    };
                    bpe = new BpeTrainer(options).Train(parse.GetValue(input)!);
                });
            HuggingFaceTokenizerWriter.Write(bpe!, outputPath);
            AnsiConsole.MarkupLineInterpolated($"wrote [bold]{outputPath}[/]: {bpe!.VocabSize:N0} tokens ({bpe.Merges.Count:N0} merges, specials {string.Join(" ", bpe.SpecialTokens.Keys)}) in {elapsed.Elapsed.TotalSeconds:F1} s");
            if (bpe.RanOutOfPairs)
                AnsiConsole.MarkupLine("[yellow]warning:[/] the corpus ran out of pairs to merge before the requested vocabulary size");
            return 0;
        }));
        return command;
    }

    // Library errors are one-line messages naming the file and place: print them, not a stack trace.
    static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IOException or KeyNotFoundException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
