using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// Byte sequence -> token id: open addressing over one byte arena. Each slot holds the key's hash, where its bytes
// start in the arena, its length and its value, so a probe touches one slot and compares bytes only on a hash hit.
// Built once, then read-only (safe to share across threads).
internal sealed class ByteSequenceTable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong Hash;
        public int Start;
        public int Length; // 0 = empty (keys are never empty)
        public int Value;
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
        if ((Count + 1) * 2 > _slots.Length) Grow();
        ulong hash = Hash(key);
        int slot = (int)hash & _mask;
        while (_slots[slot].Length != 0)
        {
            if (_slots[slot].Hash == hash && KeyAt(slot).SequenceEqual(key)) return false;
            slot = (slot + 1) & _mask;
        }
        if (_arenaLength + key.Length > _arena.Length) Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + key.Length));
        key.CopyTo(_arena.AsSpan(_arenaLength));
        _slots[slot] = new Slot { Hash = hash, Start = _arenaLength, Length = key.Length, Value = value };
        _arenaLength += key.Length;
        Count++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ReadOnlySpan<byte> key, out int value)
    {
        ulong hash = Hash(key);
        int slot = (int)hash & _mask;
        ref Slot slots = ref MemoryMarshal.GetArrayDataReference(_slots);
        while (true)
        {
            ref Slot s = ref Unsafe.Add(ref slots, slot);
            if (s.Length == 0) break;
            if (s.Hash == hash && s.Length == key.Length &&
                key.SequenceEqual(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_arena), s.Start), s.Length)))
            {
                value = s.Value;
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        value = -1;
        return false;
    }

    private ReadOnlySpan<byte> KeyAt(int slot) => new(_arena, _slots[slot].Start, _slots[slot].Length);

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length * 2];
        _mask = _slots.Length - 1;
        foreach (var s in old)
        {
            if (s.Length == 0) continue;
            int slot = (int)s.Hash & _mask;
            while (_slots[slot].Length != 0) slot = (slot + 1) & _mask;
            _slots[slot] = s;
        }
    }

    // Multiply-xorshift over 8-byte words; the length seeds the state, so overlapping tail reads are harmless.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Hash(ReadOnlySpan<byte> key)
    {
        const ulong K = 0x9E3779B97F4A7C15;
        ref byte start = ref MemoryMarshal.GetReference(key);
        int length = key.Length;
        ulong h = (ulong)(length + 1) * K;
        ulong tail;
        if (length >= 8)
        {
            for (int i = 0; i + 8 < length; i += 8)
            {
                h = (h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i))) * K;
                h ^= h >> 29;
            }
            tail = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, length - 8));
        }
        else if (length >= 4)
        {
            tail = Unsafe.ReadUnaligned<uint>(ref start) | ((ulong)Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, length - 4)) << 32);
        }
        else if (length > 0)
        {
            tail = start | ((ulong)Unsafe.Add(ref start, length >> 1) << 8) | ((ulong)Unsafe.Add(ref start, length - 1) << 16);
        }
        else
        {
            tail = 0;
        }
        h = (h ^ tail) * K;
        h ^= h >> 32;
        h *= K;
        return h ^ (h >> 29);
    }
}
