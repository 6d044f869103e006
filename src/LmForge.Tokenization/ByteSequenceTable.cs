using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// Byte sequence -> token id: open addressing with 32-byte slots that hold the key's first 16 bytes packed in two
// ulongs, its length and value, and where the rest of a longer key starts in a byte arena. Most tokens are at most
// 16 bytes, so a probe usually compares two ulongs in one cache line and never touches the arena.
// Built once, then read-only (safe to share across threads).
internal sealed class ByteSequenceTable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong Low;
        public ulong High;
        public int Length; // 0 = empty (keys are never empty)
        public int Value;
        public int Start;  // arena offset of the whole key (compared beyond byte 16 only)
        public int Unused;
    }

    private byte[] _arena = new byte[1 << 16];
    private int _arenaLength;
    private Slot[] _slots = new Slot[1 << 10];
    private int _mask = (1 << 10) - 1;

    public int Count { get; private set; }

    /// <summary>Adds a non-empty sequence; false (and no change) when it is already present.</summary>
    public bool TryAdd(ReadOnlySpan<byte> key, int value)
    {
        if (key.IsEmpty) throw new ArgumentException("empty key", nameof(key));
        if (TryGetValue(key, out _)) return false;
        if ((Count + 1) * 2 > _slots.Length) Grow();
        Pack(key, out ulong low, out ulong high);
        int slot = (int)Hash(key, low, high) & _mask;
        while (_slots[slot].Length != 0) slot = (slot + 1) & _mask;
        if (_arenaLength + key.Length > _arena.Length) Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + key.Length));
        key.CopyTo(_arena.AsSpan(_arenaLength));
        _slots[slot] = new Slot { Low = low, High = high, Length = key.Length, Value = value, Start = _arenaLength };
        _arenaLength += key.Length;
        Count++;
        return true;
    }

    public bool TryGetValue(ReadOnlySpan<byte> key, out int value)
    {
        Pack(key, out ulong low, out ulong high);
        return TryGetValue(key, low, high, out value);
    }

    /// <summary>Lookup of a key of at most 16 bytes already packed (zero-padded, little-endian).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetShort(ulong low, ulong high, int length, out int value)
    {
        int slot = (int)Mix(low, high, length) & _mask;
        ref Slot slots = ref MemoryMarshal.GetArrayDataReference(_slots);
        while (true)
        {
            ref Slot s = ref Unsafe.Add(ref slots, slot);
            if (s.Low == low && s.High == high && s.Length == length)
            {
                value = s.Value;
                return true;
            }
            if (s.Length == 0) break;
            slot = (slot + 1) & _mask;
        }
        value = -1;
        return false;
    }

    private bool TryGetValue(ReadOnlySpan<byte> key, ulong low, ulong high, out int value)
    {
        if (key.Length <= 16) return TryGetShort(low, high, key.Length, out value);
        int slot = (int)Hash(key, low, high) & _mask;
        while (true)
        {
            ref Slot s = ref _slots[slot];
            if (s.Length == 0) break;
            if (s.Low == low && s.High == high && s.Length == key.Length && key[16..].SequenceEqual(_arena.AsSpan(s.Start + 16, s.Length - 16)))
            {
                value = s.Value;
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        value = -1;
        return false;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length * 2];
        _mask = _slots.Length - 1;
        foreach (var s in old)
        {
            if (s.Length == 0) continue;
            int slot = (int)Hash(_arena.AsSpan(s.Start, s.Length), s.Low, s.High) & _mask;
            while (_slots[slot].Length != 0) slot = (slot + 1) & _mask;
            _slots[slot] = s;
        }
    }

    /// <summary>The first 16 bytes of <paramref name="key"/>, zero-padded, as two little-endian ulongs (reads only the key).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Pack(ReadOnlySpan<byte> key, out ulong low, out ulong high)
    {
        ref byte start = ref MemoryMarshal.GetReference(key);
        int length = key.Length;
        if (length >= 16)
        {
            low = Unsafe.ReadUnaligned<ulong>(ref start);
            high = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, 8));
        }
        else if (length >= 8)
        {
            low = Unsafe.ReadUnaligned<ulong>(ref start);
            high = length == 8 ? 0 : Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 8)) >> ((16 - length) * 8);
        }
        else if (length >= 4)
        {
            low = Unsafe.ReadUnaligned<uint>(ref start) | ((ulong)Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, length - 4)) << ((length - 4) * 8));
            high = 0;
        }
        else if (length > 0)
        {
            low = start | ((ulong)Unsafe.Add(ref start, length >> 1) << ((length >> 1) * 8)) | ((ulong)Unsafe.Add(ref start, length - 1) << ((length - 1) * 8));
            high = 0;
        }
        else
        {
            low = high = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong low, ulong high, int length)
    {
        ulong h = (low ^ (ulong)length << 59) * 0x9E3779B97F4A7C15;
        h ^= (high + (h >> 31)) * 0xC2B2AE3D27D4EB4F;
        return h ^ (h >> 29);
    }

    private static ulong Hash(ReadOnlySpan<byte> key, ulong low, ulong high)
    {
        ulong h = Mix(low, high, key.Length);
        if (key.Length <= 16) return h;
        ref byte start = ref MemoryMarshal.GetReference(key);
        int i = 16;
        for (; i + 8 <= key.Length; i += 8) h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i))) * 0x9E3779B97F4A7C15 ^ (h >> 29);
        if (i < key.Length) h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, key.Length - 8))) * 0x9E3779B97F4A7C15 ^ (h >> 29);
        return h;
    }
}
