using System.Runtime.InteropServices;

namespace LmForge.Tensors;

/// <summary>
/// A block of 4-byte elements in 64-byte-aligned native memory, released deterministically by Dispose
/// (or by the finalizer as a last resort). Tensors are views into these blocks.
/// A buffer allocated as not host-addressable behaves like device memory: <see cref="Pointer"/> and
/// <see cref="AsSpan"/> throw, so code above the backend can reach it only through the backend's copies.
/// </summary>
public sealed unsafe class NativeBuffer : SafeHandle
{
    public const int Alignment = 64;

    private NativeBuffer(long length, bool hostAddressable) : base(IntPtr.Zero, ownsHandle: true)
    {
        Length = length;
        IsHostAddressable = hostAddressable;
        nuint bytes = (nuint)Math.Max(1, length) * sizeof(float);
        void* memory = NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(memory, bytes);
        SetHandle((IntPtr)memory);
    }

    /// <summary>
    /// Allocates <paramref name="length"/> zeroed 4-byte elements. <paramref name="hostAddressable"/> false makes the
    /// memory reachable only by backends (as device memory is): a test backend uses it to prove that models, trainer
    /// and checkpoints never touch tensor memory directly.
    /// </summary>
    public static NativeBuffer Allocate(long length, bool hostAddressable = true)
    {
        if (length < 0) ThrowHelper.ThrowArgumentOutOfRange(nameof(length), $"buffer length must be >= 0, got {length}");
        return new NativeBuffer(length, hostAddressable);
    }

    /// <summary>Number of 4-byte elements.</summary>
    public long Length { get; }

    /// <summary>Whether code outside the backends may read and write this memory through <see cref="Pointer"/>.</summary>
    public bool IsHostAddressable { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Address of element 0 for host code. Valid until Dispose; throws for memory that is not host-addressable.</summary>
    public float* Pointer
    {
        get
        {
            if (!IsHostAddressable) ThrowHelper.ThrowNotHostAddressable();
            return DevicePointer;
        }
    }

    /// <summary>Address of element 0 for the CPU backend's kernels, whatever the buffer's host access.</summary>
    internal float* DevicePointer
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
