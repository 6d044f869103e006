namespace LmForge.Tensors;

/// <summary>The dimensions of a contiguous row-major tensor, outermost first. Immutable.</summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    private readonly int[]? _dims;

    public TensorShape(params ReadOnlySpan<int> dims)
    {
        long length = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] < 0) ThrowHelper.ThrowArgument(nameof(dims), $"dimension {i} of shape {Format(dims)} is negative");
            length *= dims[i];
        }
        _dims = dims.ToArray();
        Length = length;
    }

    public int Rank => _dims?.Length ?? 0;

    /// <summary>Total number of elements (product of the dimensions; 1 for a scalar).</summary>
    public long Length { get; }

    public int this[int axis] => _dims![axis];

    public ReadOnlySpan<int> Dimensions => _dims;

    public bool Equals(TensorShape other) => Dimensions.SequenceEqual(other.Dimensions);

    public override bool Equals(object? obj) => obj is TensorShape other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int d in Dimensions) hash.Add(d);
        return hash.ToHashCode();
    }

    public static bool operator ==(TensorShape left, TensorShape right) => left.Equals(right);

    public static bool operator !=(TensorShape left, TensorShape right) => !left.Equals(right);

    public override string ToString() => Format(Dimensions);

    private static string Format(ReadOnlySpan<int> dims) => "(" + string.Join(", ", dims.ToArray()) + ")";
}
