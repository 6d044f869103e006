using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// Scratch floats that grow with a kernel's sizes (attention's head of keys and values packed into panels and its score
/// rows, 48 queries × Tk floats: 21 MB in the backward at a context of 16K and a head size of 64) kept per thread instead of on the stack, where they would overflow a worker thread's stack at
/// long contexts. Each thread's buffer is pinned, grows to the largest request it has seen and is reused, so after the
/// first call at a size nothing is allocated; the buffer goes with its thread.
/// </summary>
internal static unsafe class ThreadScratch
{
    [ThreadStatic]
    private static float[]? t_floats;

    /// <summary>
    /// At least <paramref name="count"/> floats of this thread's scratch, valid until its next call on this thread
    /// (a kernel takes all it needs in one call and splits it).
    /// </summary>
    public static float* Floats(long count)
    {
        var buffer = t_floats;
        if (buffer is null || buffer.Length < count) buffer = Grow(count);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float[] Grow(long count)
    {
        // whole 64-byte lines, at least 4 KB, so small sizes do not regrow one by one
        long length = Math.Max(1024, (count + 15) & ~15L);
        return t_floats = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
    }
}
