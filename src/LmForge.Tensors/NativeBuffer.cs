using System.Runtime.InteropServices;

namespace LmForge.Tensors;

/// <summary>
/// A block of float32 values in 64-byte-aligned native memory, released deterministically by Dispose
/// (or by the finalizer as a last resort). Tensors are views into these blocks.
/// </summary>
public sealed unsafe class NativeBuffer : SafeHandle
{
    public const int Alignment = 64;

    private NativeBuffer(long length) : base(IntPtr.Zero, ownsHandle: true)
    {
        Length = length;
        nuint bytes = (nuint)Math.Max(1, length) * sizeof(float);
        void* memory = NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(memory, bytes);
        SetHandle((IntPtr)memory);
    }

    /// <summary>Allocates <paramref name="length"/> zeroed floats.</summary>
    public static NativeBuffer Allocate(long length)
    {
        if (length < 0) ThrowHelper.ThrowArgumentOutOfRange(nameof(length), $"buffer length must be >= 0, got {length}");
        return new NativeBuffer(length);
    }

    /// <summary>Number of float elements.</summary>
    public long Length { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Address of element 0. Valid until Dispose.</summary>
    public float* Pointer
    {
        get
        {
            if (IsClosed) ThrowHelper.ThrowObjectDisposed(nameof(NativeBuffer));
            return (float*)handle;
        }
    }

    public Span<float> AsSpan(long start, int length)
    {
        if (start < 0 || length < 0 || start + length > Length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(start), $"range [{start}, {start + length}) is outside the buffer of {Length} floats");
        return new Span<float>(Pointer + start, length);
    }

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
