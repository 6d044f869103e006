namespace LmForge.Tensors;

/// <summary>
/// A contiguous row-major tensor of float32 values (activations, parameters) or int32 values (token ids, positions,
/// targets, masks): a shape plus a range of a <see cref="NativeBuffer"/> of 4-byte elements.
/// A tensor made by <see cref="Allocate(TensorShape)"/> or <see cref="AllocateInt32(TensorShape)"/> owns its buffer and
/// frees it on Dispose; a view made by <see cref="View"/> or <see cref="Slice"/> shares the buffer and never frees it.
/// Models, trainer, optimizer and checkpoints get their tensors from <see cref="IBackend.Allocate"/> and move data only
/// with <see cref="IBackend.CopyToHost(Tensor, Span{float})"/> / <see cref="IBackend.CopyFromHost(Tensor, ReadOnlySpan{float})"/>;
/// <see cref="Pointer"/>, <see cref="AsSpan"/>, <see cref="CopyFrom(ReadOnlySpan{float})"/> and <see cref="ToArray"/>
/// are host conveniences that throw for memory that is not host-addressable.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly bool _ownsBuffer;

    private Tensor(NativeBuffer buffer, long offset, TensorShape shape, TensorElementType elementType, bool ownsBuffer)
    {
        Buffer = buffer;
        Offset = offset;
        Shape = shape;
        ElementType = elementType;
        _ownsBuffer = ownsBuffer;
    }

    /// <summary>A new zeroed float32 tensor that owns its 64-byte-aligned memory.</summary>
    public static Tensor Allocate(params ReadOnlySpan<int> shape) => Allocate(new TensorShape(shape));

    public static Tensor Allocate(TensorShape shape) =>
        new(NativeBuffer.Allocate(shape.Length), 0, shape, TensorElementType.Float32, ownsBuffer: true);

    /// <summary>A new zeroed int32 tensor that owns its 64-byte-aligned memory.</summary>
    public static Tensor AllocateInt32(params ReadOnlySpan<int> shape) => AllocateInt32(new TensorShape(shape));

    public static Tensor AllocateInt32(TensorShape shape) =>
        new(NativeBuffer.Allocate(shape.Length), 0, shape, TensorElementType.Int32, ownsBuffer: true);

    /// <summary>A new zeroed tensor of either element type, in memory that host code may or may not address (see <see cref="NativeBuffer.IsHostAddressable"/>).</summary>
    public static Tensor Allocate(TensorShape shape, TensorElementType elementType, bool hostAddressable) =>
        new(NativeBuffer.Allocate(shape.Length, hostAddressable), 0, shape, elementType, ownsBuffer: true);

    /// <summary>A view of <paramref name="shape"/> elements starting at element <paramref name="offset"/> of a buffer.</summary>
    public static Tensor View(NativeBuffer buffer, long offset, TensorShape shape, TensorElementType elementType = TensorElementType.Float32)
    {
        if (offset < 0 || offset + shape.Length > buffer.Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset),
                $"a view of shape {shape} at offset {offset} does not fit in a buffer of {buffer.Length} elements");
        return new Tensor(buffer, offset, shape, elementType, ownsBuffer: false);
    }

    public NativeBuffer Buffer { get; }

    /// <summary>Element offset of this tensor's first element inside <see cref="Buffer"/>.</summary>
    public long Offset { get; }

    public TensorShape Shape { get; }

    public TensorElementType ElementType { get; }

    public long Length => Shape.Length;

    /// <summary>Address of the first float of a float32 tensor.</summary>
    public float* Pointer
    {
        get
        {
            if (ElementType != TensorElementType.Float32) ThrowHelper.ThrowElementType(this, TensorElementType.Float32);
            return Buffer.Pointer + Offset;
        }
    }

    /// <summary>The first float for the CPU backend's kernels (no host-access check: the backend owns the memory).</summary>
    internal float* Data
    {
        get
        {
            if (ElementType != TensorElementType.Float32) ThrowHelper.ThrowElementType(this, TensorElementType.Float32);
            return Buffer.DevicePointer + Offset;
        }
    }

    /// <summary>The first int for the CPU backend's kernels.</summary>
    internal int* IntData
    {
        get
        {
            if (ElementType != TensorElementType.Int32) ThrowHelper.ThrowElementType(this, TensorElementType.Int32);
            return (int*)(Buffer.DevicePointer + Offset);
        }
    }

    /// <summary>Address of the first int of an int32 tensor.</summary>
    public int* IntPointer
    {
        get
        {
            if (ElementType != TensorElementType.Int32) ThrowHelper.ThrowElementType(this, TensorElementType.Int32);
            return (int*)(Buffer.Pointer + Offset);
        }
    }

    /// <summary>A view of this tensor's elements [start, start + shape.Length) with another shape.</summary>
    public Tensor Slice(long start, TensorShape shape)
    {
        if (start < 0 || start + shape.Length > Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(start),
                $"a slice of shape {shape} at element {start} does not fit in a tensor of shape {Shape}");
        return new Tensor(Buffer, Offset + start, shape, ElementType, ownsBuffer: false);
    }

    /// <summary>The same elements with another shape of equal length.</summary>
    public Tensor Reshape(TensorShape shape)
    {
        if (shape.Length != Length) ThrowHelper.ThrowShapeMismatch($"cannot reshape {Shape} to {shape}: element counts differ");
        return new Tensor(Buffer, Offset, shape, ElementType, ownsBuffer: false);
    }

    public Span<float> AsSpan()
    {
        if (Length > int.MaxValue) ThrowHelper.ThrowArgument(nameof(Length), $"tensor of shape {Shape} is too large for one span");
        return new Span<float>(Pointer, (int)Length);
    }

    public Span<int> AsInt32Span()
    {
        if (Length > int.MaxValue) ThrowHelper.ThrowArgument(nameof(Length), $"tensor of shape {Shape} is too large for one span");
        return new Span<int>(IntPointer, (int)Length);
    }

    public void Clear() => System.Runtime.InteropServices.NativeMemory.Clear(Buffer.Pointer + Offset, (nuint)Length * sizeof(float));

    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
            ThrowHelper.ThrowShapeMismatch($"cannot copy {source.Length} floats into a tensor of shape {Shape} ({Length} floats)");
        source.CopyTo(AsSpan());
    }

    public void CopyFrom(ReadOnlySpan<int> source)
    {
        if (source.Length != Length)
            ThrowHelper.ThrowShapeMismatch($"cannot copy {source.Length} ints into a tensor of shape {Shape} ({Length} ints)");
        source.CopyTo(AsInt32Span());
    }

    public float[] ToArray() => AsSpan().ToArray();

    public int[] ToInt32Array() => AsInt32Span().ToArray();

    public override string ToString() => ElementType == TensorElementType.Float32 ? $"Tensor{Shape}" : $"Tensor<int32>{Shape}";

    public void Dispose()
    {
        if (_ownsBuffer) Buffer.Dispose();
    }
}

/// <summary>What one element of a <see cref="Tensor"/> holds; both kinds take 4 bytes.</summary>
public enum TensorElementType
{
    Float32,
    Int32,
}
