using LmForge.Tensors;

namespace LmForge.Training.Distributed;

/// <summary>One process alone: every collective is the identity, so the single-process trainer pays nothing for them.</summary>
public sealed class SingleProcess : ICollective
{
    public static SingleProcess Instance { get; } = new();

    SingleProcess()
    {
    }

    public int Rank => 0;

    public int Size => 1;

    public int LocalSize => 1;

    public string Description => "one process";

    public void AllReduceSum(IBackend backend, Tensor buffer)
    {
    }

    public void AllReduceSum(Span<double> values)
    {
    }

    public void AllReduceMin(Span<ulong> values)
    {
    }

    public void AllReduceMax(Span<ulong> values)
    {
    }

    public void Abort(int exitCode) => Environment.Exit(exitCode);

    public void Dispose()
    {
    }
}
