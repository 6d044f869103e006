using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Training.Checkpoints;
using LmForge.Training.Distributed;

namespace LmForge.Training.Tests;

/// <summary>
/// The trainer's side of data parallelism in one process, against a stand-in for the other rank: a collective that
/// answers as if a second rank had sent the same values, optionally with parameters that drifted apart.
/// </summary>
public class DataParallelTrainerTests
{
    const int Vocabulary = 32, Context = 8, Channels = 16;

    sealed class EchoCollective(int rank, int? driftAtReplicaCheck = null) : ICollective
    {
        int _replicaChecks;

        public int Rank => rank;
        public int Size => 2;
        public int LocalSize => 2;
        public string Description => "a stand-in for 2 ranks";

        // the other rank sent the same gradients: the sum is twice these
        public void AllReduceSum(IBackend backend, Tensor buffer)
        {
            var values = backend.ToHost(buffer);
            for (int i = 0; i < values.Length; i++) values[i] *= 2;
            backend.CopyFromHost(buffer, values);
        }

        public void AllReduceSum(Span<double> values)
        {
            foreach (ref double value in values) value *= 2;
        }

        public void AllReduceMin(Span<ulong> values)
        {
        }

        public void AllReduceMax(Span<ulong> values)
        {
            if (values.Length == 1 && ++_replicaChecks == driftAtReplicaCheck) values[0]++; // the other rank's parameters hash differently
        }

        public void Abort(int exitCode) => throw new InvalidOperationException("abort");

        public void Dispose()
        {
        }
    }

    static TrainingConfig Config(string directory)
    {
        var random = new Random(20230828);
        int[] tokens = [.. Enumerable.Range(0, 3000).Select(_ => random.Next(Vocabulary))];
        TestFiles.WriteShard(Path.Combine(directory, "train_000.bin"), tokens[..2400]);
        TestFiles.WriteShard(Path.Combine(directory, "val_000.bin"), tokens[2400..]);
        return new TrainingConfig
        {
            Layers = 1, Heads = 1, EmbeddingSize = Channels, ContextLength = Context, VocabularySize = Vocabulary,
            TrainShards = Path.Combine(directory, "train_000.bin"), ValidationShards = Path.Combine(directory, "val_000.bin"),
            MicroBatchSize = 2, TotalBatchTokens = 2 * 2 * Context, Steps = 6, EvalEvery = 3, EvalBatches = 2, SampleEvery = 0,
            CheckpointEvery = 3, ReplicaCheckEvery = 3, PeakGflops = 100,
        };
    }

    [Fact]
    public void Parameters_that_differ_between_ranks_stop_the_run_at_the_next_check()
    {
        string directory = TestFiles.TemporaryDirectory("replicas");
        var config = Config(directory);
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        // checks: at the start (1), after step 3 (2): the second finds the drift
        using var trainer = Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"), new EchoCollective(0, driftAtReplicaCheck: 2));
        var error = Assert.Throws<ProcessGroupException>(() => trainer.Run());
        Assert.StartsWith("step 3: the parameters differ between the 2 processes", error.Message);
        Assert.Equal(3, trainer.State.Step);
    }

    [Fact]
    public void Only_rank_0_writes_metrics_and_checkpoints()
    {
        string directory = TestFiles.TemporaryDirectory("rank1");
        var config = Config(directory);
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        string run = Path.Combine(directory, "run");
        using (var trainer = Trainer.Start(config, model, CpuBackend.Shared, run, new EchoCollective(1)))
        {
            var result = trainer.Run();
            Assert.Equal(6, result.Step);
        }
        Assert.False(File.Exists(Path.Combine(run, Trainer.MetricsFile)));
        Assert.Empty(CheckpointDirectory.List(run));
    }

    [Fact]
    public void A_batch_the_processes_cannot_share_equally_is_refused_in_one_line()
    {
        string directory = TestFiles.TemporaryDirectory("indivisible");
        var config = Config(directory) with { TotalBatchTokens = 3 * 2 * Context };
        using var model = TransformerTrainableModel.Create(config, CpuBackend.Shared);
        // every rank refuses it alike, so rank 0 reports it once and nobody aborts
        var error = Assert.Throws<ProcessGroupException>(() => Trainer.Start(config, model, CpuBackend.Shared, Path.Combine(directory, "run"), new EchoCollective(0)));
        Assert.Equal("totalBatchTokens = 48 is not a multiple of 2 processes x microBatchSize 2 x contextLength 8 = 32: every process takes an equal share of each step; set totalBatchTokens to a multiple of 32 (e.g. --set total-batch-tokens=32) or change microBatchSize or the process count", error.Message);
    }
}
