using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// Byte sequence -> token id: open addressing over one byte arena, with the hash kept per slot so a probe compares
// bytes only on a hash hit. Built once, then read-only (safe to share across threads).
internal sealed class ByteSequenceTable
{
    private byte[] _arena = new byte[1 << 16];
    private int _arenaLength;
    private readonly List<int> _offsets = [0];
    private readonly List<int> _values = [];
    private int[] _slots = new int[1 << 10]; // entry index + 1, 0 = empty
    private ulong[] _slotHashes = new ulong[1 << 10];
    private int _mask = (1 << 10) - 1;

    public int Count => _values.Count;

    /// <summary>Adds a sequence; false (and no change) when it is already present.</summary>
    public bool TryAdd(ReadOnlySpan<byte> key, int value)
    {
        if ((Count + 1) * 2 > _slots.Length) Grow();
        ulong hash = Hash(key);
        int slot = (int)hash & _mask;
        while (_slots[slot] != 0)
        {
            if (_slotHashes[slot] == hash && KeyAt(_slots[slot] - 1).SequenceEqual(key)) return false;
            slot = (slot + 1) & _mask;
        }
        if (_arenaLength + key.Length > _arena.Length) Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + key.Length));
        key.CopyTo(_arena.AsSpan(_arenaLength));
        _arenaLength += key.Length;
        _offsets.Add(_arenaLength);
        _values.Add(value);
        _slots[slot] = Count;
        _slotHashes[slot] = hash;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ReadOnlySpan<byte> key, out int value)
    {
        ulong hash = Hash(key);
        int slot = (int)hash & _mask;
        ref int slots = ref MemoryMarshal.GetArrayDataReference(_slots);
        ref ulong hashes = ref MemoryMarshal.GetArrayDataReference(_slotHashes);
        while (true)
        {
            int entry = Unsafe.Add(ref slots, slot);
            if (entry == 0) break;
            if (Unsafe.Add(ref hashes, slot) == hash && KeyAt(entry - 1).SequenceEqual(key))
            {
                value = _values[entry - 1];
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        value = -1;
        return false;
    }

    private ReadOnlySpan<byte> KeyAt(int entry)
    {
        int start = _offsets[entry];
        return new ReadOnlySpan<byte>(_arena, start, _offsets[entry + 1] - start);
    }

    private void Grow()
    {
        int capacity = _slots.Length * 2;
        var slots = new int[capacity];
        var hashes = new ulong[capacity];
        int mask = capacity - 1;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] == 0) continue;
            int slot = (int)_slotHashes[i] & mask;
            while (slots[slot] != 0) slot = (slot + 1) & mask;
            slots[slot] = _slots[i];
            hashes[slot] = _slotHashes[i];
        }
        _slots = slots;
        _slotHashes = hashes;
        _mask = mask;
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
            int i = 0;
            for (; i + 8 < length; i += 8)
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
