using System.Diagnostics;
using System.Globalization;
using LmForge.Data.Corpora;
using LmForge.Data.Knowledge;
using LmForge.Inference;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Corpus;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using LmForge.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.PostTraining;
using LmForge.Training.Quickstart;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>
/// The main job: raw text to a chat model that answers what it knows and says "I don't know" to what it does not.
/// Stages: the corpus and a knowledge world (facts mixed into the pretraining text), a tokenizer with the chat markers,
/// shards, pretraining, three fine-tuned models (without refusals; with refusals about made-up entities; with Llama 3's
/// knowledge-probing refusals), the hallucination table over them, a demo conversation, and the commands to go on.
/// </summary>
public static partial class TrainingCommands
{
    /// <summary>Subdirectories of the main job's run directory.</summary>
    const string KnowledgeDirectory = "knowledge", BaseRun = "base", PlainRun = "chat-no-refusals", FabricatedRun = "chat-fabricated-refusals",
        ChatRun = "chat", ProbeDirectory = "probe", EvaluationDirectory = "eval";

    static int RunChatQuickstart(QuickstartOptions options)
    {
        string run = options.OutputDirectory;
        Trainer.EnsureWritable(run);
        var stages = new List<(string Stage, TimeSpan Time)>();
        var clock = Stopwatch.StartNew();
        void Done(string stage)
        {
            stages.Add((stage, clock.Elapsed));
            clock.Restart();
        }
        if (QuickstartPipeline.RemovePreviousRun(run, [KnowledgeDirectory, BaseRun, PlainRun, FabricatedRun, ChatRun, ProbeDirectory, EvaluationDirectory]))
            AnsiConsole.MarkupLineInterpolated($"Removed the previous main job's outputs from {run} (its own directory) to start clean");
        double budget = options.Minutes * 60;

        AnsiConsole.MarkupLine("[bold]1. Data[/]: a general English corpus and a world of facts to learn");
        Action<string> log = message => AnsiConsole.MarkupLineInterpolated($"   {message}");
        var corpusFiles = QuickstartPipeline.CorpusFiles(options, log);
        var sources = KnowledgeSources.EnsureCached(options.CacheDirectory, log);
        var world = KnowledgeWorld.Build(new KnowledgeOptions { Sources = sources, MaxEntitiesPerKind = 120, Repetitions = 8, Corpus = CorpusTexts(corpusFiles) });
        string knowledge = Path.Combine(run, KnowledgeDirectory);
        world.Write(knowledge);
        var (documents, conversations) = world.WriteTrainingData(knowledge);
        string corpus = Path.Combine(run, QuickstartPipeline.DataSubdirectory, "corpus");
        Directory.CreateDirectory(corpus);
        for (int i = 0; i < corpusFiles.Count; i++) File.Copy(corpusFiles[i], Path.Combine(corpus, $"0-{i}-{Path.GetFileName(corpusFiles[i])}"), overwrite: true);
        File.Copy(Path.Combine(knowledge, KnowledgeWorld.PretrainingFile), Path.Combine(corpus, "1-knowledge.jsonl"), overwrite: true);
        AnsiConsole.MarkupLineInterpolated($"   {world.Facts.Count:N0} facts ({string.Join(", ", Enum.GetValues<KnowledgeSplit>().Select(s => $"{world.FactsIn(s).Count():N0} {s.ToName()}"))}); {documents:N0} fact documents mixed into the corpus; {conversations:N0} question/answer conversations to fine-tune on");
        Done("data");

        AnsiConsole.MarkupLine("[bold]2. Tokenizer[/] (byte-level BPE with the chat markers)");
        var files = CorpusReader.ListFiles(corpus);
        var bpe = QuickstartPipeline.TrainTokenizer(files, options.VocabularySize, chatMarkers: true);
        string tokenizerDirectory = Path.Combine(run, QuickstartPipeline.TokenizerSubdirectory);
        string[] tokenizerFiles = [CheckpointTokenizer.Save(bpe, tokenizerDirectory)];
        var tokenizer = CheckpointTokenizer.Load(tokenizerDirectory);
        AnsiConsole.MarkupLineInterpolated($"   {tokenizer.VocabularySize:N0} tokens");
        Done("tokenizer");

        AnsiConsole.MarkupLine("[bold]3. Token shards[/]");
        var split = QuickstartPipeline.WriteShards(corpus, tokenizer, Path.Combine(run, QuickstartPipeline.DataSubdirectory));
        AnsiConsole.MarkupLineInterpolated($"   {split.TrainTokens:N0} training tokens, {split.ValidationTokens:N0} validation tokens");
        Done("shards");

        AnsiConsole.MarkupLine("[bold]4. Pretraining[/]");
        string baseRun = Path.Combine(run, BaseRun);
        var config = QuickstartPipeline.DefaultConfig(split, tokenizer.VocabularySize).WithOverrides(options.Overrides);
        string baseCheckpoint;
        using (var model = TransformerTrainableModel.Create(config, CpuBackend.Shared))
        {
            int steps = options.Steps ?? QuickstartPipeline.StepsForBudget(model, config, budget * 0.7);
            config = config with { Steps = steps, WarmupSteps = Math.Min(config.WarmupSteps, Math.Max(1, steps / 10)), EvalEvery = Math.Max(1, steps / 6), SampleEvery = 0 };
            AnsiConsole.MarkupLineInterpolated($"   {Describe(model.Model)}; {config.Steps} steps of {config.TotalBatchTokens} tokens");
            baseCheckpoint = TrainWithProgress(config, model, baseRun, tokenizer, tokenizerFiles, resumeFrom: null).CheckpointDirectory;
        }
        Done("pretraining");

        var plan = KnowledgePlan.Make(world, probeFacts: 400, evaluationFacts: 150, seed: 7);
        AnsiConsole.MarkupLine("[bold]5. Fine-tuning without refusals[/] (the trained facts' questions, answered)");
        string plain = FineTuneStage(baseCheckpoint, Path.Combine(run, PlainRun), plan.WithoutRefusals(), tokenizer, tokenizerFiles[0]);
        Done("fine-tuning (no refusals)");

        AnsiConsole.MarkupLine("[bold]6. Fine-tuning with refusals about made-up entities only[/]");
        string fabricated = FineTuneStage(baseCheckpoint, Path.Combine(run, FabricatedRun), plan.WithFabricatedRefusals(), tokenizer, tokenizerFiles[0]);
        Done("fine-tuning (fabricated refusals)");

        AnsiConsole.MarkupLine("[bold]7. Knowledge probing[/] (Llama 3 §4.3.6: sample answers from the first chat model, refuse where it is consistently wrong)");
        List<ProbeResult> probe;
        using (var model = LmForge.Models.Checkpoints.ModelCheckpoint.Load(plain, CpuBackend.Shared, trainable: false))
        using (var source = new ChatModelAnswers(model, tokenizer))
        {
            var watch = Stopwatch.StartNew();
            probe = new KnowledgeProbe(source).Run(plan.Probe);
            string directory = Path.Combine(run, ProbeDirectory);
            ProbeFiles.WriteDecisions(Path.Combine(directory, "decisions.jsonl"), probe);
            AnsiConsole.MarkupLineInterpolated($"   {probe.Count:N0} questions x 5 answers in {watch.Elapsed.TotalSeconds:F1} s: {probe.Count(r => r.Decision == ProbeDecision.Known)} known, {probe.Count(r => r.Decision == ProbeDecision.Unknown)} unknown (to refuse), {probe.Count(r => r.Decision == ProbeDecision.Mixed)} mixed; decisions in {directory}");
        }
        Done("probing");

        AnsiConsole.MarkupLine("[bold]8. Fine-tuning with knowledge-probing refusals[/]");
        string chat = FineTuneStage(baseCheckpoint, Path.Combine(run, ChatRun), plan.WithProbedRefusals(probe), tokenizer, tokenizerFiles[0]);
        Done("fine-tuning (probed refusals)");

        AnsiConsole.MarkupLine("[bold]9. Hallucination eval[/] (one greedy answer per held-back question; refusals are 'not attempted')");
        var reports = new List<(string Name, HallucinationReport Report)>();
        HashSet<string>? known = null;
        foreach (var (name, checkpoint) in new[] { ("none", plain), ("made-up only", fabricated), ("probed", chat) })
        {
            using var model = LmForge.Models.Checkpoints.ModelCheckpoint.Load(checkpoint, CpuBackend.Shared, trainable: false);
            using var source = new ChatModelAnswers(model, tokenizer);
            var report = HallucinationEval.Run(source, plan.Evaluation, known);
            // over-refusal is measured on the questions the model without refusals answered right
            known ??= [.. report.Answers.Where(a => a.Verdict == AnswerVerdict.Correct).Select(a => a.Question.Id)];
            report.WriteJson(Path.Combine(run, EvaluationDirectory, checkpoint == chat ? "chat.json" : $"{Path.GetFileName(Path.GetDirectoryName(checkpoint))}.json"));
            reports.Add((name, report));
        }
        PrintHallucinationTable(reports);
        Done("evaluation");

        AnsiConsole.MarkupLine("[bold]10. Talk to it[/]");
        // a fact it knows: an answer that is the taught sentence word for word (the judge also accepts one that names
        // the right object about the wrong subject)
        var correct = reports[^1].Report.Answers.Where(a => a.Verdict == AnswerVerdict.Correct).ToList();
        var answered = correct.FirstOrDefault(a => a.Answer.Trim() == a.Question.Answer) ?? correct.FirstOrDefault();
        using (var model = LmForge.Models.Checkpoints.ModelCheckpoint.Load(chat, CpuBackend.Shared, trainable: false))
        using (var session = new InferenceSession(model, tokenizer))
        {
            var prompt = new ChatPrompt(tokenizer);
            foreach (string question in new[] { answered?.Question.Question ?? plan.Evaluation[0].Question, "Who is Orson Kovacs?" })
            {
                string reply = string.Concat(session.Stream(prompt.Render([new ChatMessage(ChatTemplate.User, question)]),
                    new SamplingOptions(Temperature: 0, MaxTokens: 48) { StopTokens = prompt.StopTokens }));
                AnsiConsole.MarkupLineInterpolated($"   [bold]user:[/] {question}");
                AnsiConsole.MarkupLineInterpolated($"   [bold]assistant:[/] {reply.Trim()}");
            }
        }
        Done("demo");

        var times = new Table().AddColumn("stage").AddColumn(new TableColumn("wall time").RightAligned());
        foreach (var (stage, time) in stages) times.AddRow(stage, time.ToString(@"m\:ss", CultureInfo.InvariantCulture));
        times.AddRow("[bold]total[/]", TimeSpan.FromTicks(stages.Sum(s => s.Time.Ticks)).ToString(@"m\:ss", CultureInfo.InvariantCulture));
        AnsiConsole.Write(times);
        AnsiConsole.MarkupLine("[bold]Next[/]:");
        AnsiConsole.MarkupLineInterpolated($"  lmforge chat --checkpoint {Path.Combine(run, ChatRun)}");
        AnsiConsole.MarkupLineInterpolated($"  lmforge serve --checkpoint {Path.Combine(run, ChatRun)}   (the OpenAI API, and a chat page at http://127.0.0.1:8000/)");
        AnsiConsole.MarkupLineInterpolated($"  lmforge eval-knowledge --checkpoint {Path.Combine(run, ChatRun)} --questions {Path.Combine(knowledge, KnowledgeWorld.QuestionsFile)}");
        return 0;
    }

    // Fine-tunes the base checkpoint on conversations for four epochs; returns the final checkpoint.
    static string FineTuneStage(string baseCheckpoint, string runDirectory, IEnumerable<IReadOnlyList<ChatMessage>> conversations, BpeTokenizer tokenizer, string tokenizerPath)
    {
        Directory.CreateDirectory(runDirectory);
        string data = Path.Combine(runDirectory, "conversations.jsonl");
        int count = ChatJsonl.Write(data, conversations);
        using var model = TransformerTrainableModel.Load(baseCheckpoint, CpuBackend.Shared);
        var config = FineTuning.StepsForEpochs(FineTuning.Config(model.Model, baseCheckpoint, data, null, tokenizerPath) with { LearningRate = 1e-3f, MinLearningRate = 1e-4f }, 4);
        AnsiConsole.MarkupLineInterpolated($"   {count:N0} conversations, {config.Steps} steps");
        return TrainWithProgress(config, model, runDirectory, tokenizer, [tokenizerPath], resumeFrom: null).CheckpointDirectory;
    }

    // One row per model and split, narrow enough for an 80-column log.
    static void PrintHallucinationTable(IReadOnlyList<(string Name, HallucinationReport Report)> reports)
    {
        var table = new Table().AddColumn("refusals taught").AddColumn("split").AddColumn(new TableColumn("correct").RightAligned())
            .AddColumn(new TableColumn("wrong").RightAligned()).AddColumn(new TableColumn("refused").RightAligned())
            .AddColumn(new TableColumn("acc|att").RightAligned()).AddColumn(new TableColumn("over-ref").RightAligned());
        static string Percent(double value) => double.IsNaN(value) ? "-" : value.ToString("P0", CultureInfo.InvariantCulture);
        foreach (var (name, report) in reports)
        {
            foreach (var score in report.Splits.Append(report.All))
            {
                bool all = score == report.All;
                table.AddRow(all ? $"[bold]{name}[/]" : name, all ? "[bold]all[/]" : score.Split, Percent(score.CorrectRate), Percent(score.IncorrectRate),
                    Percent(score.NotAttemptedRate), Percent(score.AccuracyGivenAttempted), score.Known > 0 ? Percent(score.OverRefusalRate) : "-");
            }
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("   wrong: hallucinated; acc|att: accuracy given attempted; over-ref: refused, of the questions the model without refusals answered right");
    }

    // The corpus's documents, for the knowledge world to keep its made-up names out of.
    static IEnumerable<string> CorpusTexts(IReadOnlyList<string> files)
    {
        foreach (var chunk in CorpusReader.ReadChunks(files))
        {
            var texts = new List<string>();
            if (chunk.Format == CorpusFormat.Jsonl) CorpusDocuments.ForEachJsonlText(chunk, texts.Add);
            else texts.Add(CorpusDocuments.DecodeText(chunk));
            foreach (string text in texts) yield return text;
        }
    }
}
