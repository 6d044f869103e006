using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>
/// Attention's score rows grow with the key count (a query block's rows × Tk floats, twice in the backward): they live in a
/// per-thread scratch buffer, not on the stack, so a long context runs on a thread with a small stack (a worker's).
/// </summary>
public sealed class AttentionScratchTests
{
    [Fact]
    public void ForwardAndBackward_OverManyKeys_RunOnAThreadWithA256KBStack_AndMatchABigStack()
    {
        const int queries = 4, keys = 16384, headSize = 8; // the rows of a 4-query block: 256 KB forward, 512 KB backward
        var layout = new AttentionLayout(1, 1, headSize, QueryColumn: 0, KeyColumn: 0, ValueColumn: headSize, Causal: false, Scale: 1f / MathF.Sqrt(headSize));
        var random = TestData.NewRandom();
        using var query = TestData.Random(random, 1f, 1, queries, headSize);
        using var keyValue = TestData.Random(random, 1f, 1, keys, 2 * headSize);
        using var outputGrad = TestData.Random(random, 1f, 1, queries, headSize);
        using var pool = new WorkerPool(1); // every block on the calling thread
        var backend = new CpuBackend(pool);

        float[][] Run()
        {
            using var output = Tensor.Allocate(1, queries, headSize);
            using var lse = Tensor.Allocate(1, 1, queries);
            using var queryGrad = Tensor.Allocate(query.Shape);
            using var keyValueGrad = Tensor.Allocate(keyValue.Shape);
            backend.AttentionForward(output, lse, query, keyValue, layout);
            backend.AttentionBackward(queryGrad, keyValueGrad, null, outputGrad, query, keyValue, output, lse, layout);
            return [output.AsSpan().ToArray(), queryGrad.AsSpan().ToArray(), keyValueGrad.AsSpan().ToArray()];
        }

        float[][]? small = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                small = Run();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.Null(failure);
        var big = Run();
        for (int i = 0; i < big.Length; i++) Assert.Equal(big[i], small![i]);
        Assert.All(big[2], value => Assert.True(float.IsFinite(value)));
    }
}
