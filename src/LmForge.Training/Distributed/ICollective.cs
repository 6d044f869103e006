using LmForge.Tensors;

namespace LmForge.Training.Distributed;

/// <summary>
/// The processes of a data-parallel run and the collectives the trainer needs between them: every process (rank)
/// holds the whole model, trains on its share of each global batch, and sums gradients with <see cref="AllReduceSum(IBackend, Tensor)"/>
/// before every optimizer step. <see cref="SingleProcess"/> is the one-process case (every call returns at once);
/// <see cref="MpiCollective"/> runs on the system's MPI; a GPU collective library (NCCL) can implement the same calls
/// on device memory. Every rank must make the same calls in the same order, as MPI's collectives require.
/// </summary>
public interface ICollective : IDisposable
{
    /// <summary>This process's index, 0 to <see cref="Size"/> − 1; rank 0 alone logs and writes checkpoints.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>The processes on this machine (they share its cores).</summary>
    int LocalSize { get; }

    /// <summary>What runs the collectives, for the start-up line ("Open MPI 4.1.4", "one process").</summary>
    string Description { get; }

    /// <summary>Sums <paramref name="buffer"/> (float32, memory of <paramref name="backend"/>) element-wise across all ranks, in place; every rank gets the sum.</summary>
    void AllReduceSum(IBackend backend, Tensor buffer);

    /// <summary>Sums host values element-wise across all ranks, in place (losses, counts).</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>The element-wise minimum and maximum of host values across ranks, in place (hashes that must agree).</summary>
    void AllReduceMin(Span<ulong> values);

    /// <summary>See <see cref="AllReduceMin"/>.</summary>
    void AllReduceMax(Span<ulong> values);

    /// <summary>
    /// Ends every process of the job at once with <paramref name="exitCode"/> (a rank that failed alone; the others
    /// would otherwise wait in a collective forever). Does not return.
    /// </summary>
    void Abort(int exitCode);
}
