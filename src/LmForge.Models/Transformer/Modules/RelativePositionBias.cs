using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>
/// T5's relative position bias: a learned table (buckets, heads) whose entry for the bucket of (key position − query
/// position) is added to every attention score of that head, in every layer of the stack. The bias (NH,Tq,Tk) is a
/// gather from the table (an embedding lookup of width 1 over the table's buckets·heads entries, with ids
/// bucket·NH + h planned once per length), and its backward scatters the summed gradient of all layers back.
/// </summary>
internal sealed class RelativePositionBias
{
    private readonly string _name;

    public RelativePositionBias(ParameterLayoutBuilder layout, string name, int buckets, int heads, int maxDistance, bool bidirectional)
    {
        _name = name + ".weight";
        Buckets = buckets;
        Heads = heads;
        MaxDistance = maxDistance;
        Bidirectional = bidirectional;
        layout.Declare(_name, decay: true, ParameterInit.Normal, buckets, heads);
    }

    public int Buckets { get; }
    public int Heads { get; }
    public int MaxDistance { get; }
    public bool Bidirectional { get; }

    private Tensor Table { get; set; } = null!;        // (buckets·NH, 1): the (buckets, NH) table as one column
    private Tensor? TableGrad { get; set; }

    public void Bind(ParameterViews views)
    {
        var table = views.Value(_name);
        Table = table.Slice(0, new TensorShape(Buckets * Heads, 1));
        TableGrad = views.Gradient(_name)?.Slice(0, new TensorShape(Buckets * Heads, 1));
    }

    /// <summary>Ids Int32 (NH·Tq·Tk), uploaded once; Bias and BiasGrad (NH,Tq,Tk), and both as one column (NH·Tq·Tk, 1) for the lookup.</summary>
    public sealed record Activations(Tensor Ids, Tensor Bias, Tensor BiasGrad)
    {
        public Tensor BiasColumn { get; } = Column(Bias);
        public Tensor BiasGradColumn { get; } = Column(BiasGrad);
    }

    public Activations Plan(IBackend backend, ActivationAllocator allocate, int queryCount, int keyCount)
    {
        var ids = allocate.Int32(Heads * queryCount * keyCount);
        var host = new int[ids.Length];
        for (int t = 0; t < queryCount; t++)
        {
            for (int j = 0; j < keyCount; j++)
            {
                int bucket = Bucket(j - t);
                for (int h = 0; h < Heads; h++) host[(((h * queryCount) + t) * keyCount) + j] = (bucket * Heads) + h;
            }
        }
        backend.CopyFromHost(ids, host);
        return new Activations(ids, allocate.Float(Heads, queryCount, keyCount), allocate.Float(Heads, queryCount, keyCount));
    }

    public void Forward(IBackend backend, Activations a) => backend.EmbeddingForward(a.BiasColumn, a.Ids, Table, accumulate: false);

    // the table's gradient += the bias gradient, summed into each entry's bucket
    public void Backward(IBackend backend, Activations a) => backend.EmbeddingBackward(TableGrad!, a.BiasGradColumn, a.Ids);

    /// <summary>
    /// For a causal decoder with a KV cache: the bias (NH, <paramref name="length"/>) by distance d = query − key ≥ 0,
    /// read from the table on the host (inference, once per cache).
    /// </summary>
    public float[] DistanceBias(IBackend backend, int length)
    {
        float[] table = backend.ToHost(Table);
        var bias = new float[Heads * length];
        for (int d = 0; d < length; d++)
        {
            int bucket = Bucket(-d);
            for (int h = 0; h < Heads; h++) bias[(h * length) + d] = table[(bucket * Heads) + h];
        }
        return bias;
    }

    /// <summary>The bucket of a relative position (key − query) as T5's _relative_position_bucket, in float32 as it computes.</summary>
    public int Bucket(int relativePosition) => Bucket(relativePosition, Bidirectional, Buckets, MaxDistance);

    public static int Bucket(int relativePosition, bool bidirectional, int buckets, int maxDistance)
    {
        int offset = 0, distance;
        if (bidirectional)
        {
            buckets /= 2;
            if (relativePosition > 0) offset = buckets;
            distance = Math.Abs(relativePosition);
        }
        else
        {
            distance = Math.Max(-relativePosition, 0);
        }
        int exact = buckets / 2;
        if (distance < exact) return offset + distance;
        // log-spaced buckets from exact up to maxDistance, computed in float32 and truncated, as T5 does
        float scaled = MathF.Log((float)distance / exact) / (float)Math.Log((double)maxDistance / exact) * (buckets - exact);
        return offset + Math.Min(exact + (int)scaled, buckets - 1);
    }

    private static Tensor Column(Tensor bias) => bias.Slice(0, new TensorShape((int)bias.Length, 1));
}
