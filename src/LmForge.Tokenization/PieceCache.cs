using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// A direct-mapped cache of short pieces (up to 16 bytes) and their tokens (up to 3), 32 bytes an entry, one per thread and
// tokenizer: frequent words are answered from L1/L2 without touching the large vocabulary and pair tables.
// The key is the piece's bytes packed in two zero-padded ulongs plus its length.
internal sealed class PieceCache
{
    public const int MaxBytes = 16;
    public const int MaxTokens = 3;
    private const int Size = 16384; // 512 KB: hit rate ~84% on English pieces (4096: ~72%; 65536: ~92% but slower)

    [StructLayout(LayoutKind.Sequential)]
    private struct Entry
    {
        public ulong Low;
        public ulong High;
        public int LengthAndCount; // length << 8 | token count; 0 = empty
        public int Token0, Token1, Token2;
    }

    private readonly Entry[] _entries = new Entry[Size];

    // Pair lookups of the merge loop, direct-mapped in front of the large pair table: the subword pairs of
    // rare words repeat even when the words do not.
    private const int PairSize = 8192; // 128 KB
    private readonly PairEntry[] _pairs = NewPairs();

    [StructLayout(LayoutKind.Sequential)]
    private struct PairEntry
    {
        public ulong Key; // left << 32 | right; ulong.MaxValue = empty
        public int Priority;
        public int Merged;
    }

    private static PairEntry[] NewPairs()
    {
        var pairs = new PairEntry[PairSize];
        pairs.AsSpan().Fill(new PairEntry { Key = ulong.MaxValue });
        return pairs;
    }

    /// <summary><see cref="TokenPairTable.Lookup"/> through this thread's pair cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LookupPair(TokenPairTable table, int left, int right, out int merged)
    {
        ulong key = ((ulong)(uint)left << 32) | (uint)right;
        int slot = (int)((key * 0x9E3779B97F4A7C15) >> 51) & (PairSize - 1);
        ref PairEntry e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_pairs), slot);
        if (e.Key == key)
        {
            merged = e.Merged;
            return e.Priority;
        }
        int priority = table.Lookup(left, right, out merged);
        e.Key = key;
        e.Priority = priority;
        e.Merged = merged;
        return priority;
    }

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
        if ((e.LengthAndCount >> 8) != length || e.Low != low || e.High != high) return false;
        int count = e.LengthAndCount & 0xFF;
        output.Add(e.Token0);
        if (count > 1)
        {
            output.Add(e.Token1);
            if (count > 2) output.Add(e.Token2);
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
        e.LengthAndCount = length << 8 | tokens.Length;
        e.Token0 = tokens[0];
        if (tokens.Length > 1) e.Token1 = tokens[1];
        if (tokens.Length > 2) e.Token2 = tokens[2];
    }
}
