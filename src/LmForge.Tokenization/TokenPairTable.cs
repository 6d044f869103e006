using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// (left token, right token) -> (merge priority, merged token). For tiktoken ranks every split of a token into two
// tokens is an entry whose priority is the merged token's rank, which reproduces "merge the adjacent pair whose
// concatenation has the lowest rank"; for a merges list (GPT-2 vocab.bpe, tokenizer.json) the priority is the line.
internal sealed class TokenPairTable
{
    private const ulong Empty = ulong.MaxValue;

    [StructLayout(LayoutKind.Sequential)]
    private struct Entry
    {
        public ulong Key;
        public int Priority;
        public int Merged;
    }

    private Entry[] _entries;
    private int _mask;
    private int _count;

    public TokenPairTable(int expectedCount)
    {
        int capacity = 1024;
        while (capacity < expectedCount * 2) capacity *= 2;
        _entries = NewEntries(capacity);
        _mask = capacity - 1;
    }

    public int Count => _count;

    private static Entry[] NewEntries(int capacity)
    {
        var entries = new Entry[capacity];
        entries.AsSpan().Fill(new Entry { Key = Empty });
        return entries;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong KeyOf(int left, int right) => ((ulong)(uint)left << 32) | (uint)right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SlotOf(ulong key, int mask) => (int)((key * 0x9E3779B97F4A7C15) >> 40) & mask;

    /// <summary>Adds the pair unless present (the first, lowest-priority entry wins). False when it was present.</summary>
    public bool TryAdd(int left, int right, int priority, int merged)
    {
        if ((_count + 1) * 2 > _entries.Length) Grow();
        ulong key = KeyOf(left, right);
        int slot = SlotOf(key, _mask);
        while (_entries[slot].Key != Empty)
        {
            if (_entries[slot].Key == key) return false;
            slot = (slot + 1) & _mask;
        }
        _entries[slot] = new Entry { Key = key, Priority = priority, Merged = merged };
        _count++;
        return true;
    }

    /// <summary>Priority of merging the pair (int.MaxValue when it does not merge) and the token it makes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Lookup(int left, int right, out int merged)
    {
        ulong key = KeyOf(left, right);
        int slot = SlotOf(key, _mask);
        ref Entry entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        while (true)
        {
            ref Entry entry = ref Unsafe.Add(ref entries, slot);
            if (entry.Key == key)
            {
                merged = entry.Merged;
                return entry.Priority;
            }
            if (entry.Key == Empty)
            {
                merged = -1;
                return int.MaxValue;
            }
            slot = (slot + 1) & _mask;
        }
    }

    private void Grow()
    {
        var old = _entries;
        _entries = NewEntries(old.Length * 2);
        _mask = _entries.Length - 1;
        foreach (var entry in old)
        {
            if (entry.Key == Empty) continue;
            int slot = SlotOf(entry.Key, _mask);
            while (_entries[slot].Key != Empty) slot = (slot + 1) & _mask;
            _entries[slot] = entry;
        }
    }
}
