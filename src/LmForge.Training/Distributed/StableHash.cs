using System.Runtime.InteropServices;
using System.Text;

namespace LmForge.Training.Distributed;

/// <summary>
/// FNV-1a over 32-bit words: the same value in every process and on every machine (unlike <see cref="HashCode"/>), so
/// ranks can compare their parameters or their config by all-reducing the minimum and the maximum of a hash.
/// </summary>
public static class StableHash
{
    const ulong Offset = 14695981039346656037, Prime = 1099511628211;

    public static ulong Of(ReadOnlySpan<float> values, ulong hash = Offset)
    {
        foreach (uint bits in MemoryMarshal.Cast<float, uint>(values)) hash = (hash ^ bits) * Prime;
        return hash;
    }

    public static ulong Of(string text, ulong hash = Offset)
    {
        foreach (byte b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * Prime;
        return hash;
    }
}
