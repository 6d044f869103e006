using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// A small direct-mapped cache of short pieces (up to 16 bytes) and their tokens (up to 4), one per thread and
// tokenizer: frequent words are answered from L1/L2 without touching the large vocabulary and pair tables.
// The key is the piece's bytes packed in two zero-padded ulongs plus its length.
internal sealed class PieceCache
{
    public const int MaxBytes = 16;
    public const int MaxTokens = 4;
    private const int Size = 4096;

    [StructLayout(LayoutKind.Sequential)]
    private struct Entry
    {
        public ulong Low;
        public ulong High;
        public int Length; // 0 = empty
        public int Count;
        public int Token0, Token1, Token2, Token3;
    }

    private readonly Entry[] _entries = new Entry[Size];

    /// <summary>Packs a piece of 2..16 bytes; <paramref name="padded"/> must have 16 readable bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pack(ref byte padded, int length, out ulong low, out ulong high)
    {
        low = Unsafe.ReadUnaligned<ulong>(ref padded);
        high = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref padded, 8));
        if (length < 8)
        {
            low &= (1UL << (length * 8)) - 1;
            high = 0;
        }
        else if (length < 16)
        {
            high &= length == 8 ? 0 : (1UL << ((length - 8) * 8)) - 1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SlotOf(ulong low, ulong high, int length)
    {
        ulong h = (low ^ (high * 0xC2B2AE3D27D4EB4F) ^ (ulong)length) * 0x9E3779B97F4A7C15;
        return (int)(h >> 52) & (Size - 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAppend(ulong low, ulong high, int length, List<int> output)
    {
        ref Entry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), SlotOf(low, high, length));
        if (e.Length != length || e.Low != low || e.High != high) return false;
        output.Add(e.Token0);
        if (e.Count > 1)
        {
            output.Add(e.Token1);
            if (e.Count > 2)
            {
                output.Add(e.Token2);
                if (e.Count > 3) output.Add(e.Token3);
            }
        }
        return true;
    }

    /// <summary>Remembers the tokens of a piece (ignored when there are more than <see cref="MaxTokens"/>).</summary>
    public void Store(ulong low, ulong high, int length, ReadOnlySpan<int> tokens)
    {
        if (tokens.Length > MaxTokens) return;
        ref Entry e = ref _entries[SlotOf(low, high, length)];
        e.Low = low;
        e.High = high;
        e.Length = length;
        e.Count = tokens.Length;
        e.Token0 = tokens[0];
        if (tokens.Length > 1) e.Token1 = tokens[1];
        if (tokens.Length > 2) e.Token2 = tokens[2];
        if (tokens.Length > 3) e.Token3 = tokens[3];
    }
}
