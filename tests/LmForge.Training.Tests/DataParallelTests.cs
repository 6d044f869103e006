using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LmForge.Tests.Shared;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;
using LmForge.Training.Distributed;

namespace LmForge.Training.Tests;

/// <summary>A fact that needs Open MPI's mpirun (tests/setup/mpi.sh installs it); skipped locally without it, failed under CI=true.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        Skip = Oracle.SkipReason(DataParallelTests.MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", DataParallelTests.HowToInstallMpi);
    }
}

/// <summary>
/// Data-parallel training with the real Open MPI on loopback: 2 processes of batch B train as 1 of batch 2B (same
/// windows, losses equal up to the order of the sums), a rank killed mid-run ends the job without a hang and the run
/// resumes bit for bit, a Slurm job runs it through srun, and bad input is one line on rank 0. The tests run alone
/// (<see cref="MultiProcessCollection"/>): two ranks keep both cores busy, which would slow timing-sensitive tests beside them.
/// </summary>
[Collection(MultiProcessCollection.Name)]
public class DataParallelTests
{
    public const string HowToInstallMpi = "run tests/setup/mpi.sh as root (test.sh does)";

    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch_training");

    public static bool MpiInstalled => File.Exists("/usr/bin/mpirun") && File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40");

    // Relative tolerance of 2 processes of batch B against 1 of batch 2B: the same windows, the losses and gradients
    // summed in another order (per rank, then across ranks), float32 throughout.
    const double Tolerance = 2e-5;

    static string Tokenizer(string directory)
    {
        // the fixture shards use ids below 64: a byte-level tokenizer (256 bytes and <|endoftext|>) covers them
        return CheckpointTokenizer.Save(new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions
        {
            VocabSize = 257, Threads = 1, SpecialTokens = [LmForge.Tokenization.Training.BpeTrainerOptions.EndOfText],
        }).TrainOnTexts(["a"]), directory);
    }

    static string[] TrainArguments(string tokenizer, string run, int microBatch, int steps, int checkpointEvery = 0, int evalEvery = 3) =>
    [
        "train", "--tokenizer", tokenizer, "--train", Path.Combine(Fixture, "train_000000.bin"), "--val", Path.Combine(Fixture, "val_000000.bin"),
        "--out", run, "--set", "layers=1", "--set", "heads=2", "--set", "embedding-size=32", "--set", "context-length=16",
        "--set", $"micro-batch-size={microBatch}", "--set", "total-batch-tokens=128", "--set", $"steps={steps}", "--set", $"eval-every={evalEvery}",
        "--set", "sample-every=0", "--set", $"checkpoint-every={checkpointEvery}", "--set", "peak-gflops=100", "--set", "replica-check-every=1",
    ];

    static string Lmforge => TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll");

    // mpirun -np N dotnet lmforge.dll ...; root is allowed here only (Open MPI refuses it by default)
    static ProcessStartInfo Mpirun(int processes, params string[] arguments)
    {
        var start = new ProcessStartInfo("mpirun", ["--oversubscribe", "-np", processes.ToString(CultureInfo.InvariantCulture), "dotnet", Lmforge, .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        return start;
    }

    static (int ExitCode, string Output, string Errors) Run(ProcessStartInfo start, TimeSpan? limit = null)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit ?? TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish in {(limit ?? TimeSpan.FromMinutes(5)).TotalMinutes} minutes (a hang?)");
        }
        return (process.ExitCode, output.GetAwaiter().GetResult(), errors.GetAwaiter().GetResult());
    }

    static List<JsonElement> Metrics(string run) =>
        [.. File.ReadAllLines(Path.Combine(run, Trainer.MetricsFile)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    static double? Value(JsonElement record, string name) => record.TryGetProperty(name, out var v) ? v.GetDouble() : null;

    // Every record's train loss, validation loss and gradient norm agree within the tolerance.
    static void AssertSameRun(string expectedRun, string actualRun, double tolerance)
    {
        var expected = Metrics(expectedRun);
        var actual = Metrics(actualRun);
        Assert.Equal(expected.Select(r => r.GetProperty("step").GetInt32()), actual.Select(r => r.GetProperty("step").GetInt32()));
        for (int i = 0; i < expected.Count; i++)
        {
            foreach (string name in new[] { "trainLoss", "validationLoss", "gradientNorm" })
            {
                double? e = Value(expected[i], name), a = Value(actual[i], name);
                Assert.Equal(e is null, a is null);
                if (e is null) continue;
                Assert.True(Math.Abs(e.Value - a!.Value) <= tolerance * Math.Abs(e.Value), $"record {i} {name}: {a} vs {e} (one process) differs by more than {tolerance:E0} relative");
            }
        }
    }

    [MpiFact]
    public void Two_processes_of_batch_B_train_as_one_process_of_batch_2B()
    {
        Oracle.Require(MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", HowToInstallMpi);
        string directory = TestFiles.TemporaryDirectory("mpi-equal");
        string tokenizer = Tokenizer(directory);
        string single = Path.Combine(directory, "single"), parallel = Path.Combine(directory, "parallel");
        var (code, _, errors) = TestFiles.RunTool(TrainArguments(tokenizer, single, microBatch: 4, steps: 6));
        Assert.True(code == 0, errors);
        var (mpiCode, output, mpiErrors) = Run(Mpirun(2, TrainArguments(tokenizer, parallel, microBatch: 2, steps: 6)));
        Assert.True(mpiCode == 0, mpiErrors + output);
        Assert.Contains("data parallel: 2 processes (Open MPI", output);
        Assert.Contains(" each (", output); // the threads per process
        AssertSameRun(single, parallel, Tolerance);
        // rank 0 alone wrote: one metrics record per step, one final checkpoint
        Assert.Equal(7, Metrics(parallel).Count); // 6 steps and the final validation
        Assert.Equal(2, TrainerState.ReadProcesses(CheckpointDirectory.FindLatest(parallel)!));
    }

    [MpiFact]
    public async Task A_killed_rank_ends_the_job_and_the_run_resumes_bit_for_bit()
    {
        Oracle.Require(MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", HowToInstallMpi);
        string directory = TestFiles.TemporaryDirectory("mpi-kill");
        string tokenizer = Tokenizer(directory);
        string reference = Path.Combine(directory, "reference"), killed = Path.Combine(directory, "killed");
        const int Steps = 300; // long enough that the run is still going when the kill lands, on a fast machine too
        var (code, output, errors) = Run(Mpirun(2, TrainArguments(tokenizer, reference, microBatch: 2, Steps, checkpointEvery: 5, evalEvery: 20)));
        Assert.True(code == 0, errors + output);

        using var mpirun = Process.Start(Mpirun(2, TrainArguments(tokenizer, killed, microBatch: 2, Steps, checkpointEvery: 5, evalEvery: 20)))!;
        var killedOutput = mpirun.StandardOutput.ReadToEndAsync();
        var killedErrors = mpirun.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        // any checkpoint: a fast run may already have pruned step 5 when this loop looks
        while (CheckpointDirectory.FindLatest(killed) is null)
        {
            if (mpirun.HasExited) Assert.Fail($"the run ended (exit {mpirun.ExitCode}) before its first checkpoint: {await killedErrors}{await killedOutput}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "no checkpoint in 2 minutes");
            await Task.Delay(10);
        }
        int rank1 = RankProcess(mpirun.Id, 1);
        Process.GetProcessById(rank1).Kill();
        var killedAt = clock.Elapsed;
        bool ended = mpirun.WaitForExit(TimeSpan.FromMinutes(1));
        if (!ended) mpirun.Kill(entireProcessTree: true);
        Assert.True(ended, "rank 0 hung after rank 1 died: mpirun did not end in a minute");
        string why = await killedErrors + await killedOutput;
        Assert.True(mpirun.ExitCode != 0, why);
        Assert.Contains("rank 1", why); // mpirun says which process died
        Assert.True(clock.Elapsed - killedAt < TimeSpan.FromSeconds(30), $"the job took {clock.Elapsed - killedAt} to end");

        // the newest checkpoint is whole, and the resumed run is the uninterrupted one
        string last = CheckpointDirectory.FindLatest(killed)!;
        Assert.True(StepOf(last) < Steps, $"the run finished ({last}) before the kill; nothing was tested");
        var (resumeCode, resumeOutput, resumeErrors) = Run(Mpirun(2, "train", "--resume", killed));
        Assert.True(resumeCode == 0, resumeErrors + resumeOutput);
        Assert.Equal(File.ReadAllBytes(Path.Combine(CheckpointDirectory.FindLatest(reference)!, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(CheckpointDirectory.FindLatest(killed)!, "model.safetensors")));
        Assert.Equal(Metrics(reference).Select(r => Value(r, "trainLoss")), Metrics(killed).Select(r => Value(r, "trainLoss")));
        Assert.Equal(Metrics(reference).Select(r => Value(r, "validationLoss")), Metrics(killed).Select(r => Value(r, "validationLoss")));
    }

    [SlurmMpiFact]
    public void A_slurm_job_from_print_sbatch_trains_with_2_processes_through_srun()
    {
        Oracle.Require(MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", HowToInstallMpi);
        Oracle.Require(SlurmMpiFactAttribute.SlurmIsUp(), "a Slurm cluster", SlurmMpiFactAttribute.HowToStart);
        string directory = TestFiles.TemporaryDirectory("mpi-slurm");
        string tokenizer = Tokenizer(directory);
        string single = Path.Combine(directory, "single"), parallel = Path.Combine(directory, "parallel");
        var (code, _, errors) = TestFiles.RunTool(TrainArguments(tokenizer, single, microBatch: 4, steps: 6));
        Assert.True(code == 0, errors);
        var (printed, script, printErrors) = TestFiles.RunTool([.. TrainArguments(tokenizer, parallel, microBatch: 2, steps: 6), "--print-sbatch", "--processes-per-node", "2"]);
        Assert.True(printed == 0, printErrors);
        Assert.Contains("srun --mpi=pmix", script);
        string path = Path.Combine(directory, "train.sbatch");
        File.WriteAllText(path, script);
        var sbatch = new ProcessStartInfo("sbatch", ["--wait", $"--chdir={directory}", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        var (sbatchCode, sbatchOutput, sbatchErrors) = Run(sbatch);
        string log = string.Join("\n", Directory.GetFiles(directory, "lmforge-train-*.out").Select(File.ReadAllText));
        Assert.True(sbatchCode == 0, $"{sbatchOutput}{sbatchErrors}{log}");
        Assert.Contains("data parallel: 2 processes (Open MPI", log);
        AssertSameRun(single, parallel, Tolerance);
    }

    // The child of mpirun whose environment says it is rank `rank`.
    static int RankProcess(int mpirun, int rank)
    {
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(entry, "stat"));
                int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                if (parent != mpirun) continue;
                if (File.ReadAllText(Path.Combine(entry, "environ")).Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (IOException)
            {
            }
        }
        throw new InvalidOperationException($"no rank {rank} under mpirun {mpirun}");
    }

    static int StepOf(string checkpoint) => int.Parse(Path.GetFileName(checkpoint)["step-".Length..], CultureInfo.InvariantCulture);

    [MpiFact]
    public void Ranks_with_different_configs_or_an_indivisible_batch_stop_with_one_line_on_rank_0()
    {
        Oracle.Require(MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", HowToInstallMpi);
        string directory = TestFiles.TemporaryDirectory("mpi-bad");
        string tokenizer = Tokenizer(directory);
        string[] arguments = TrainArguments(tokenizer, Path.Combine(directory, "run"), microBatch: 2, steps: 2);
        // MPMD: rank 0 and rank 1 given different learning rates
        var start = Mpirun(1, [.. arguments, "--set", "learning-rate=0.001"]);
        foreach (string word in new[] { ":", "-np", "1", "dotnet", Lmforge }.Concat(arguments).Append("--set").Append("learning-rate=0.002")) start.ArgumentList.Add(word);
        var (code, _, errors) = Run(start);
        Assert.NotEqual(0, code);
        string disagree = "error: the 2 processes disagree on the training config or data";
        Assert.Single(errors.Split('\n'), line => line.StartsWith(disagree, StringComparison.Ordinal));

        var (indivisible, _, indivisibleErrors) = Run(Mpirun(2, [.. TrainArguments(tokenizer, Path.Combine(directory, "run2"), microBatch: 4, steps: 2), "--set", "total-batch-tokens=192"]));
        Assert.NotEqual(0, indivisible);
        Assert.Single(indivisibleErrors.Split('\n'), line => line.StartsWith("error: totalBatchTokens = 192 is not a multiple of 2 processes x microBatchSize 4 x contextLength 16 = 128", StringComparison.Ordinal));
    }

    [Fact]
    public void A_launch_of_several_processes_without_libmpi_is_one_line_on_rank_0_saying_what_to_install()
    {
        string directory = TestFiles.TemporaryDirectory("mpi-missing");
        string[] arguments = TrainArguments(Tokenizer(directory), Path.Combine(directory, "run"), microBatch: 2, steps: 2);
        foreach (int rank in new[] { 0, 1 })
        {
            var start = new ProcessStartInfo("dotnet", [Lmforge, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
            // what mpirun gives its processes, and a libmpi that is not there
            start.Environment["OMPI_COMM_WORLD_SIZE"] = "2";
            start.Environment["OMPI_COMM_WORLD_RANK"] = rank.ToString(CultureInfo.InvariantCulture);
            start.Environment[MpiCollective.LibraryEnvironmentVariable] = Path.Combine(directory, "libmpi.so.40");
            var (code, output, errors) = Run(start);
            Assert.Equal(1, code);
            Assert.Equal(rank == 0
                ? $"error: mpirun started 2 processes but Open MPI's {Path.Combine(directory, "libmpi.so.40")} cannot be loaded: install Open MPI (sudo apt-get install openmpi-bin libopenmpi-dev) on every machine, or run one process\n"
                : "", errors);
            Assert.Equal("", output);
        }
    }

    [Fact]
    public void Ranks_share_each_global_batch_as_one_process_serves_it()
    {
        string directory = TestFiles.TemporaryDirectory("mpi-share");
        var paths = new[] { TestFiles.WriteShard(Path.Combine(directory, "train_00.bin"), Enumerable.Range(0, 200).ToList()) };
        const int B = 2, T = 4;
        using var whole = new TokenBatchLoader(paths, 2 * B, T, 1 << 16, seed: 7, shuffle: true);
        using var rank0 = new TokenBatchLoader(paths, B, T, 1 << 16, seed: 7, shuffle: true, new BatchShare(0, 2));
        using var rank1 = new TokenBatchLoader(paths, B, T, 1 << 16, seed: 7, shuffle: true, new BatchShare(1, 2));
        Assert.Equal(whole.BatchesPerEpoch, rank0.BatchesPerEpoch);
        int[] all = new int[2 * B * T], allTargets = new int[2 * B * T], part = new int[B * T], partTargets = new int[B * T];
        for (long i = 0; i < whole.BatchesPerEpoch + 2; i++) // into the second epoch
        {
            whole.Next(all, allTargets);
            rank0.Next(part, partTargets);
            Assert.Equal(all[..(B * T)], part);
            rank1.Next(part, partTargets);
            Assert.Equal(all[(B * T)..], part);
            Assert.Equal(whole.Position, rank1.Position);
        }
    }

    [Fact]
    public void The_launcher_is_read_from_the_environment_and_cores_are_divided_among_the_ranks()
    {
        Assert.Null(ProcessGroup.Launch(_ => null));
        Assert.Equal(("mpirun", 4, 3), ProcessGroup.Launch(n => n switch { "OMPI_COMM_WORLD_SIZE" => "4", "OMPI_COMM_WORLD_RANK" => "3", _ => null }));
        Assert.Null(ProcessGroup.Launch(n => n == "OMPI_COMM_WORLD_SIZE" ? "1" : null));
        Assert.Equal(("srun", 2, 1), ProcessGroup.Launch(n => n switch { "SLURM_STEP_NUM_TASKS" => "2", "SLURM_STEP_ID" => "0", "SLURM_PROCID" => "1", _ => null }));
        // an sbatch script's own shell is no step of several processes
        Assert.Null(ProcessGroup.Launch(n => n switch { "SLURM_STEP_NUM_TASKS" => "2", "SLURM_STEP_ID" => "batch", _ => null }));
        Assert.Equal(1, ProcessGroup.ThreadsPerRank(localRanks: 4, onlineCores: 2));
        Assert.Equal(Math.Min(Environment.ProcessorCount, 4), ProcessGroup.ThreadsPerRank(localRanks: 2, onlineCores: 8));
    }

    [Fact]
    public void The_sbatch_script_starts_every_rank_with_srun_over_pmix()
    {
        string script = SlurmTrainingScript.Write(new SlurmTrainingJob { Nodes = 2, ProcessesPerNode = 4, TimeLimit = "01:00:00" }, "lmforge train --config 'my run.json'");
        Assert.Contains("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\n", script);
        Assert.Contains("#SBATCH --time=01:00:00\n", script);
        Assert.EndsWith("srun --mpi=pmix --kill-on-bad-exit=1 lmforge train --config 'my run.json'\n", script);
        Assert.Equal("'my run.json'", SlurmTrainingScript.Quote("my run.json"));
    }
}

/// <summary>A fact that needs Open MPI and a Slurm cluster (tests/setup/mpi.sh, tests/setup/data-filters.sh start them); skipped locally without them, failed under CI=true.</summary>
public sealed class SlurmMpiFactAttribute : FactAttribute
{
    public const string HowToStart = "run tests/setup/data-filters.sh as root to start one (test.sh does)";

    public SlurmMpiFactAttribute()
    {
        Skip = Oracle.SkipReason(DataParallelTests.MpiInstalled, "Open MPI (mpirun and libmpi.so.40)", DataParallelTests.HowToInstallMpi)
            ?? Oracle.SkipReason(SlurmIsUp(), "a Slurm cluster (sinfo shows no node up)", HowToStart);
    }

    public static bool SlurmIsUp()
    {
        try
        {
            using var sinfo = Process.Start(new ProcessStartInfo("sinfo", ["-h", "-o", "%T"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string states = sinfo.StandardOutput.ReadToEnd();
            return sinfo.WaitForExit(10_000) && sinfo.ExitCode == 0 && states.Split('\n').Any(s => s.Trim() is "idle" or "mixed" or "allocated" or "completing");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>Tests that start several busy processes: run after the others, never beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MultiProcessCollection
{
    public const string Name = "multi-process";
}
