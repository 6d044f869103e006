using System.Runtime.InteropServices;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// The packed A block (Mc×Kc) and B block (Kc×Nc) of one thread: 64-byte aligned native memory, allocated on the
/// thread's first product and reused by every later one, freed when the thread is gone.
/// </summary>
internal sealed unsafe class GemmPackingBuffers
{
    [ThreadStatic]
    private static GemmPackingBuffers? s_current;

    private GemmPackingBuffers()
    {
        // Slack after A: the vectorized packing of A stores 2 floats past the end of the last panel.
        PackedA = (float*)NativeMemory.AlignedAlloc((nuint)((GemmKernel.Mc * GemmKernel.Kc + 16) * sizeof(float)), 64);
        PackedB = (float*)NativeMemory.AlignedAlloc((nuint)(GemmKernel.Kc * GemmKernel.Nc * sizeof(float)), 64);
    }

    ~GemmPackingBuffers()
    {
        NativeMemory.AlignedFree(PackedA);
        NativeMemory.AlignedFree(PackedB);
    }

    public float* PackedA { get; }

    public float* PackedB { get; }

    public static GemmPackingBuffers ForCurrentThread() => s_current ??= new GemmPackingBuffers();
}
