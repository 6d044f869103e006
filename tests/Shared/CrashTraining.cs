using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using LmForge.Models.Checkpoints;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using LmForge.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Metrics;

namespace LmForge.Testing;

/// <summary>How a life of the crashed run ends: the signal, and the moment it is sent.</summary>
public enum CrashMoment
{
    /// <summary>A random time while steps run.</summary>
    Random,
    /// <summary>As soon as a checkpoint's .incomplete- directory appears (the save is under way).</summary>
    CheckpointWrite,
    /// <summary>As soon as the step before a validation is logged (the validation is under way).</summary>
    Validation,
}

public sealed record CrashTrainingOptions
{
    /// <summary>The built lmforge.dll (run with dotnet).</summary>
    public required string Program { get; init; }
    public required string WorkDirectory { get; init; }
    public int Kills { get; init; } = 3;
    public int Interrupts { get; init; } = 2;
    public int Seed { get; init; } = 1;
    public int Steps { get; init; } = 240;
    public int CheckpointEvery { get; init; } = 4;
    public int EvalEvery { get; init; } = 6;
    public TextWriter? Log { get; init; }
}

public sealed record CrashTrainingResult(int Kills, int KillsInCheckpointWrite, int KillsInValidation, int Interrupts, int InterruptsInCheckpointWrite,
    int Lives, int FinalStep, IReadOnlyList<string> Failures, TimeSpan Elapsed)
{
    public bool Passed => Failures.Count == 0;
}

/// <summary>
/// Crash-safe training, proven end to end: the real `lmforge train` trains a tiny GPT with frequent checkpoints and
/// validations once without interruption (the reference) and once more killed with SIGKILL (and stopped with SIGINT)
/// at chosen moments, resumed with `--resume` after each. After every kill: every step-* checkpoint verifies (its
/// weights and optimizer match the hashes its state recorded) and the newest loads; at most one checkpoint interval of
/// logged steps was lost (none after SIGINT, which must exit 130 having saved). At the end: the final weights, the
/// optimizer state, every checkpoint both runs kept and metrics.jsonl's losses are byte for byte the reference's, and no
/// hidden leftover of a save is in the run directory. Failures are returned as lines, not thrown, so a test and the
/// bench suite report them alike.
/// </summary>
public static partial class CrashTraining
{
    const int SIGINT = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    public static CrashTrainingResult Run(CrashTrainingOptions options)
    {
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        var log = options.Log ?? TextWriter.Null;
        var random = new Random(options.Seed);
        string work = Directory.CreateDirectory(options.WorkDirectory).FullName;
        var (tokenizer, train, validation) = WriteCorpus(work, options.Seed);
        string[] settings =
        [
            "--set", "layers=2", "--set", "heads=2", "--set", "embedding-size=32", "--set", "context-length=32",
            "--set", "micro-batch-size=4", "--set", "total-batch-tokens=128", "--set", $"steps={options.Steps}",
            "--set", $"eval-every={options.EvalEvery}", "--set", "eval-batches=40", "--set", "sample-every=0",
            "--set", $"checkpoint-every={options.CheckpointEvery}", "--set", "keep-checkpoints=3", "--set", "peak-gflops=100",
            "--set", $"seed={options.Seed}",
        ];
        string[] NewRun(string run) => ["train", "--tokenizer", tokenizer, "--train", train, "--val", validation, "--out", run, .. settings];

        string reference = Path.Combine(work, "reference");
        var referenceLife = Life.Start(options.Program, NewRun(reference));
        referenceLife.WaitForOutput("MFU over the peak");
        var trainingClock = Stopwatch.StartNew();
        referenceLife.WaitForExit();
        double trainingSeconds = trainingClock.Elapsed.TotalSeconds;
        if (referenceLife.ExitCode != 0)
        {
            failures.Add($"the uninterrupted run exited {referenceLife.ExitCode}: {referenceLife.Errors}");
            return new CrashTrainingResult(0, 0, 0, 0, 0, 1, 0, failures, clock.Elapsed);
        }
        log.WriteLine($"reference: {options.Steps} steps in {trainingSeconds:F1} s of training");

        // The plan: each kill and interrupt with its moment, in a seeded order (every moment used when there are enough).
        var plan = new List<(bool Kill, CrashMoment Moment)>();
        for (int i = 0; i < options.Kills; i++) plan.Add((true, (CrashMoment)((i + 1) % 3)));
        for (int i = 0; i < options.Interrupts; i++) plan.Add((false, i % 2 == 0 ? CrashMoment.CheckpointWrite : CrashMoment.Random));
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(plan));

        string crashed = Path.Combine(work, "crashed");
        int kills = 0, killsInSave = 0, killsInValidation = 0, interrupts = 0, interruptsInSave = 0, lives = 1;
        bool finished = false;
        foreach (var (kill, moment) in plan)
        {
            string? resumeFrom = CheckpointDirectory.FindLatest(crashed);
            int resumedStep = resumeFrom is null ? 0 : StepOf(resumeFrom);
            var life = Life.Start(options.Program, resumeFrom is null ? NewRun(crashed) : ["train", "--resume", crashed]);
            lives++;
            int? validationStep = null;
            switch (moment)
            {
                case CrashMoment.Random:
                    // after this life's first step (so SIGINT finds its handler), within the half of the work left
                    if (!life.WaitForMetrics(crashed, resumedStep + 1)) break;
                    Thread.Sleep(TimeSpan.FromSeconds(random.NextDouble() * 0.5 * trainingSeconds * (options.Steps - resumedStep) / options.Steps));
                    break;
                case CrashMoment.CheckpointWrite:
                    life.WaitForDirectory(crashed, ".incomplete-", random.Next(1, 3));
                    break;
                case CrashMoment.Validation:
                    int next = (resumedStep / options.EvalEvery + 1 + random.Next(2)) * options.EvalEvery;
                    if (life.WaitForMetrics(crashed, next)) validationStep = next;
                    break;
            }
            bool saveUnderWay = Directory.Exists(crashed) && Directory.GetDirectories(crashed, ".incomplete-*").Length > 0;
            if (kill) life.Kill();
            else life.Signal(SIGINT);
            life.WaitForExit();
            string what = $"life {lives} ({(kill ? "SIGKILL" : "SIGINT")} at {moment}, resumed at step {resumedStep})";
            if (life.ExitCode == 0)
            {
                log.WriteLine($"{what}: the run finished before the signal");
                finished = true;
                break;
            }
            bool inSave = Directory.GetDirectories(crashed, ".incomplete-*").Length > 0;
            var checkpoints = CheckpointDirectory.List(crashed);
            int saved = checkpoints.Count > 0 ? checkpoints[^1].Step : 0;
            int logged = LoggedSteps(crashed);
            string detail = $"{what}: exit {life.ExitCode}, {logged} steps logged, newest checkpoint step {saved}{(inSave ? ", a save was under way" : "")}";
            log.WriteLine(detail);
            if (kill)
            {
                kills++;
                if (life.ExitCode != 137) failures.Add($"{detail}: expected exit 137 (SIGKILL)");
                if (moment == CrashMoment.CheckpointWrite && inSave) killsInSave++;
                // killed before the validation's line was printed, with the step before it the last one logged
                if (validationStep is { } v && logged == v && !life.Output.Contains(string.Create(CultureInfo.InvariantCulture, $"step {v,5}: validation loss"), StringComparison.Ordinal))
                    killsInValidation++;
                if (logged - saved > options.CheckpointEvery)
                    failures.Add($"{detail}: {logged - saved} logged steps lost, more than one checkpoint interval ({options.CheckpointEvery})");
            }
            else
            {
                interrupts++;
                if (moment == CrashMoment.CheckpointWrite && saveUnderWay) interruptsInSave++;
                if (life.ExitCode != 130) failures.Add($"{detail}: expected exit 130 after SIGINT: {life.Errors}");
                else if (!life.Errors.Contains($"interrupted at step {saved} of {options.Steps}: checkpoint ", StringComparison.Ordinal))
                    failures.Add($"{detail}: stderr does not say it saved step {saved}: {life.Errors}");
                if (saved != logged) failures.Add($"{detail}: SIGINT must save every logged step");
                if (inSave) failures.Add($"{detail}: SIGINT left a save half done");
            }
            failures.AddRange(CheckDirectory(crashed, detail, requireSwept: false));
        }

        if (!finished)
        {
            var last = Life.Start(options.Program, ["train", "--resume", crashed]);
            lives++;
            last.WaitForExit();
            if (last.ExitCode != 0) failures.Add($"the last resume exited {last.ExitCode}: {last.Errors}");
        }
        failures.AddRange(CheckDirectory(crashed, "after the run", requireSwept: true));
        failures.AddRange(CompareRuns(reference, crashed));
        var final = CheckpointDirectory.FindLatest(crashed);
        return new CrashTrainingResult(kills, killsInSave, killsInValidation, interrupts, interruptsInSave, lives,
            final is null ? 0 : StepOf(final), failures, clock.Elapsed);
    }

    // A byte-level tokenizer (the 256 bytes and <|endoftext|>) and seeded shards of byte ids with some structure to learn.
    static (string Tokenizer, string Train, string Validation) WriteCorpus(string work, int seed)
    {
        string tokenizer = Path.GetDirectoryName(CheckpointTokenizer.Save(new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = 257, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText],
        }).TrainOnTexts(["a"]), Path.Combine(work, "tokenizer")))!;
        var random = new Random(seed);
        int[] Tokens(int count)
        {
            var tokens = new int[count];
            for (int i = 0; i < count; i++) tokens[i] = i > 0 && random.Next(3) > 0 ? (tokens[i - 1] * 7 + 3) % 256 : random.Next(256);
            return tokens;
        }
        string train = Path.Combine(work, "data", "train_000000.bin"), validation = Path.Combine(work, "data", "val_000000.bin");
        Directory.CreateDirectory(Path.Combine(work, "data"));
        TokenShardWriter.Write(train, Tokens(200_000), 257);
        TokenShardWriter.Write(validation, Tokens(20_000), 257);
        return (tokenizer, train, validation);
    }

    // Every step-* checkpoint verifies and the newest loads; nothing else but hidden leftovers of a save, abandoned/,
    // metrics.jsonl and loss.svg; after a finished run no leftovers either.
    static IEnumerable<string> CheckDirectory(string run, string when, bool requireSwept)
    {
        var failures = new List<string>();
        var checkpoints = CheckpointDirectory.List(run);
        foreach (var (_, path) in checkpoints)
        {
            try
            {
                TrainerState.Verify(path);
                foreach (string file in (string[])[ModelCheckpoint.WeightsFileName, "config.json", CheckpointTokenizer.FileName, TrainerState.ConfigFile, "README.md"])
                    if (!File.Exists(Path.Combine(path, file))) failures.Add($"{when}: {path} looks complete but has no {file}");
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                failures.Add($"{when}: {e.Message}");
            }
        }
        if (checkpoints.Count > 0)
        {
            try
            {
                using var model = ModelCheckpoint.Load(checkpoints[^1].Path, CpuBackend.Shared, trainable: false);
            }
            catch (Exception e)
            {
                failures.Add($"{when}: the newest checkpoint does not load: {e.Message}");
            }
        }
        foreach (string entry in Directory.GetFileSystemEntries(run))
        {
            string name = Path.GetFileName(entry);
            // hidden: a save's temporaries; *.tmp: AtomicFile's, of metrics.jsonl and loss.svg (removed by their next write)
            bool leftover = name.StartsWith('.') || name.EndsWith(".tmp", StringComparison.Ordinal);
            if (leftover && requireSwept) failures.Add($"{when}: {entry} was left in the run directory");
            else if (!leftover && !name.StartsWith("step-", StringComparison.Ordinal) && name is not (Trainer.MetricsFile or Trainer.LossCurveFile or CheckpointDirectory.AbandonedDirectory or "tokenizer"))
                failures.Add($"{when}: unexpected {entry}");
        }
        return failures;
    }

    // The final state and every checkpoint both runs kept are the same bytes; the metrics' losses too (see MetricsLog).
    static IEnumerable<string> CompareRuns(string reference, string crashed)
    {
        var failures = new List<string>();
        var expected = CheckpointDirectory.List(reference);
        var actual = CheckpointDirectory.List(crashed).ToDictionary(c => c.Step, c => c.Path);
        if (expected.Count == 0 || !actual.ContainsKey(expected[^1].Step))
            return [$"the crashed run has no checkpoint of the final step {(expected.Count > 0 ? expected[^1].Step : 0)}"];
        foreach (var (step, path) in expected)
        {
            if (!actual.TryGetValue(step, out string? other)) continue;
            foreach (string file in (string[])[ModelCheckpoint.WeightsFileName, TrainerState.OptimizerFile])
                if (!File.ReadAllBytes(Path.Combine(path, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(other, file))))
                    failures.Add($"{Path.Combine(other, file)} differs from the uninterrupted run's");
            var a = TrainerState.Verify(path);
            var b = TrainerState.Verify(other);
            if (a with { ElapsedSeconds = 0, TrainingShards = null } != b with { ElapsedSeconds = 0, TrainingShards = null })
                failures.Add($"{Path.Combine(other, TrainerState.StateFile)}: step, tokens, data position or hashes differ from the uninterrupted run's");
        }
        string[] expectedLines = File.ReadAllLines(Path.Combine(reference, Trainer.MetricsFile));
        string[] actualLines = File.ReadAllLines(Path.Combine(crashed, Trainer.MetricsFile));
        if (expectedLines.Length != actualLines.Length)
            failures.Add($"metrics.jsonl has {actualLines.Length} lines, the uninterrupted run's {expectedLines.Length}");
        for (int i = 0; i < Math.Min(expectedLines.Length, actualLines.Length); i++)
        {
            string e = MetricsLog.WithoutTimings(expectedLines[i]), g = MetricsLog.WithoutTimings(actualLines[i]);
            if (e != g)
            {
                failures.Add($"metrics.jsonl line {i + 1} differs: {g} instead of {e}");
                break;
            }
        }
        return failures;
    }

    // Steps whose records were logged (the records of steps, not the final validation's).
    static int LoggedSteps(string run)
    {
        string path = Path.Combine(run, Trainer.MetricsFile);
        if (!File.Exists(path)) return 0;
        var records = MetricsLog.Read(path, skipUnreadableLastLine: true).Where(r => r.TrainLoss is not null).ToList();
        return records.Count == 0 ? 0 : records[^1].Step + 1;
    }

    static int StepOf(string checkpoint) => int.Parse(Path.GetFileName(checkpoint)["step-".Length..], CultureInfo.InvariantCulture);

    /// <summary>One run of `lmforge train` as a child process, its output collected.</summary>
    sealed class Life
    {
        readonly Process _process;
        readonly StringBuilder _output = new(), _errors = new();

        Life(Process process) => _process = process;

        public static Life Start(string program, string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet", [program, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
            var life = new Life(new Process { StartInfo = start });
            life._process.OutputDataReceived += (_, e) => { lock (life._output) life._output.AppendLine(e.Data); };
            life._process.ErrorDataReceived += (_, e) => { lock (life._errors) life._errors.AppendLine(e.Data); };
            life._process.Start();
            life._process.BeginOutputReadLine();
            life._process.BeginErrorReadLine();
            return life;
        }

        public string Output { get { lock (_output) return _output.ToString(); } }

        public string Errors { get { lock (_errors) return _errors.ToString(); } }

        public int ExitCode => _process.ExitCode;

        public void WaitForOutput(string text) => WaitUntil(() => Output.Contains(text, StringComparison.Ordinal));

        /// <summary>Until metrics.jsonl logs <paramref name="steps"/> steps; false if the process ended first.</summary>
        public bool WaitForMetrics(string run, int steps) => WaitUntil(() => LoggedStepsWhileWritten(run) >= steps);

        /// <summary>Until the <paramref name="count"/>-th directory named prefix* appears in <paramref name="run"/> (inotify, so the save is caught under way).</summary>
        public void WaitForDirectory(string run, string prefix, int count)
        {
            Directory.CreateDirectory(run);
            using var seen = new SemaphoreSlim(0);
            using var watcher = new FileSystemWatcher(run, prefix + "*") { NotifyFilter = NotifyFilters.DirectoryName };
            int created = 0;
            watcher.Created += (_, _) =>
            {
                if (Interlocked.Increment(ref created) == count) seen.Release();
            };
            watcher.EnableRaisingEvents = true;
            while (!seen.Wait(5) && !_process.HasExited) { }
        }

        public void Kill() => _process.Kill();

        public void Signal(int signal) => SendSignal(_process.Id, signal);

        public void WaitForExit()
        {
            if (!_process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                _process.Kill();
                throw new TimeoutException("lmforge train did not end in 3 minutes");
            }
            _process.WaitForExit(); // and its output is read to the end
        }

        bool WaitUntil(Func<bool> condition)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (_process.HasExited) return false;
                if (clock.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException("lmforge train made no progress in 3 minutes");
                Thread.Sleep(1);
            }
            return true;
        }

        static int LoggedStepsWhileWritten(string run)
        {
            try
            {
                return LoggedSteps(run);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                return 0; // replaced under us (a resume rewrites it)
            }
        }
    }
}
