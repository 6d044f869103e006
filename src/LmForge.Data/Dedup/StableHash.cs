using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace LmForge.Data.Dedup;

/// <summary>
/// A fast 64-bit hash of text that is the same in every process, on every machine and in every run (unlike
/// string.GetHashCode), so hashes written by one task can be compared with hashes written by another. Not
/// cryptographic: it mixes 8 bytes (4 UTF-16 chars) per multiply and ends with the murmur3 64-bit finalizer.
/// </summary>
public static class StableHash
{
    private const ulong Multiplier1 = 0x9E3779B97F4A7C15UL;
    private const ulong Multiplier2 = 0xC2B2AE3D27D4EB4FUL;

    public static ulong Hash64(ReadOnlySpan<char> text, ulong seed = 0)
    {
        var bytes = MemoryMarshal.AsBytes(text);
        ulong h = seed ^ ((ulong)bytes.Length * Multiplier1);
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(i, 8));
            h = BitOperations.RotateLeft(h ^ (v * Multiplier2), 29) * Multiplier1;
        }
        if (i < bytes.Length)
        {
            ulong tail = 0;
            for (int j = bytes.Length - 1; j >= i; j--) tail = (tail << 8) | bytes[j];
            h = BitOperations.RotateLeft(h ^ (tail * Multiplier2), 29) * Multiplier1;
        }
        return Finalize(h);
    }

    /// <summary>Folds one more 64-bit value into a running hash (for hashing sequences of word hashes).</summary>
    public static ulong Combine(ulong running, ulong value) =>
        BitOperations.RotateLeft(running ^ (value * Multiplier2), 31) * Multiplier1;

    /// <summary>The murmur3 64-bit finalizer: every input bit affects every output bit.</summary>
    public static ulong Finalize(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }
}
