namespace LmForge.Tensors;

/// <summary>
/// A contiguous row-major float32 tensor: a shape plus a range of a <see cref="NativeBuffer"/>.
/// A tensor made by <see cref="Allocate"/> owns its buffer and frees it on Dispose; a view made by
/// <see cref="View"/> or <see cref="Slice"/> shares the buffer and never frees it.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly bool _ownsBuffer;

    private Tensor(NativeBuffer buffer, long offset, TensorShape shape, bool ownsBuffer)
    {
        Buffer = buffer;
        Offset = offset;
        Shape = shape;
        _ownsBuffer = ownsBuffer;
    }

    /// <summary>A new zeroed tensor that owns its 64-byte-aligned memory.</summary>
    public static Tensor Allocate(params ReadOnlySpan<int> shape) => Allocate(new TensorShape(shape));

    public static Tensor Allocate(TensorShape shape) => new(NativeBuffer.Allocate(shape.Length), 0, shape, ownsBuffer: true);

    /// <summary>A view of <paramref name="shape"/> elements starting at element <paramref name="offset"/> of a buffer.</summary>
    public static Tensor View(NativeBuffer buffer, long offset, TensorShape shape)
    {
        if (offset < 0 || offset + shape.Length > buffer.Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset),
                $"a view of shape {shape} at offset {offset} does not fit in a buffer of {buffer.Length} floats");
        return new Tensor(buffer, offset, shape, ownsBuffer: false);
    }

    public NativeBuffer Buffer { get; }

    /// <summary>Element offset of this tensor's first element inside <see cref="Buffer"/>.</summary>
    public long Offset { get; }

    public TensorShape Shape { get; }

    public long Length => Shape.Length;

    public float* Pointer => Buffer.Pointer + Offset;

    /// <summary>A view of this tensor's elements [start, start + shape.Length) with another shape.</summary>
    public Tensor Slice(long start, TensorShape shape)
    {
        if (start < 0 || start + shape.Length > Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(start),
                $"a slice of shape {shape} at element {start} does not fit in a tensor of shape {Shape}");
        return new Tensor(Buffer, Offset + start, shape, ownsBuffer: false);
    }

    /// <summary>The same elements with another shape of equal length.</summary>
    public Tensor Reshape(TensorShape shape)
    {
        if (shape.Length != Length) ThrowHelper.ThrowShapeMismatch($"cannot reshape {Shape} to {shape}: element counts differ");
        return new Tensor(Buffer, Offset, shape, ownsBuffer: false);
    }

    public Span<float> AsSpan()
    {
        if (Length > int.MaxValue) ThrowHelper.ThrowArgument(nameof(Length), $"tensor of shape {Shape} is too large for one span");
        return new Span<float>(Pointer, (int)Length);
    }

    public void Clear() => System.Runtime.InteropServices.NativeMemory.Clear(Pointer, (nuint)Length * sizeof(float));

    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
            ThrowHelper.ThrowShapeMismatch($"cannot copy {source.Length} floats into a tensor of shape {Shape} ({Length} floats)");
        source.CopyTo(AsSpan());
    }

    public float[] ToArray() => AsSpan().ToArray();

    public override string ToString() => $"Tensor{Shape}";

    public void Dispose()
    {
        if (_ownsBuffer) Buffer.Dispose();
    }
}
