using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization;

// The merge loop: turns the UTF-8 bytes of one piece into token ids by repeatedly merging the adjacent pair with
// the lowest priority (leftmost on ties), as tiktoken's byte_pair_encode does. Short pieces use a linear scan over
// small stack arrays; long ones (a 100 KB run of letters is one piece) use a heap over a linked list, O(n log n).
internal sealed class BytePairMerger
{
    private const int LinearScanLimit = 64;

    private readonly int[] byteTokens;
    private readonly TokenPairTable pairs;
    private readonly ByteSequenceTable tokens;
    private readonly bool wholePieceLookup;
    // The merge of every byte pair, indexed by first << 8 | second: a piece's first round of lookups is dense
    // and cache-friendly (ASCII letter pairs sit in a few KB) instead of probing the large pair table.
    private readonly long[] _bytePairs = new long[65536]; // priority << 32 | merged token

    public BytePairMerger(int[] byteTokens, TokenPairTable pairs, ByteSequenceTable tokens, bool wholePieceLookup)
    {
        this.byteTokens = byteTokens;
        this.pairs = pairs;
        this.tokens = tokens;
        this.wholePieceLookup = wholePieceLookup;
        for (int a = 0; a < 256; a++)
        {
            for (int b = 0; b < 256; b++)
            {
                int priority = pairs.Lookup(byteTokens[a], byteTokens[b], out int merged);
                _bytePairs[a << 8 | b] = (long)priority << 32 | (uint)merged;
            }
        }
    }

    /// <summary>Appends the tokens of <paramref name="piece"/> (non-empty UTF-8) to <paramref name="output"/>.
    /// The memory after the piece must hold at least <see cref="PieceCache.MaxBytes"/> readable bytes from its start
    /// (the caller's scratch buffer guarantees it), so a short piece is packed with two unaligned reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Encode(ReadOnlySpan<byte> piece, List<int> output, PieceCache cache)
    {
        int length = piece.Length;
        if (length == 1)
        {
            output.Add(byteTokens[piece[0]]);
            return;
        }
        if (length > PieceCache.MaxBytes)
        {
            EncodeUncached(piece, output, cache);
            return;
        }
        PieceCache.Pack(ref MemoryMarshal.GetReference(piece), length, out ulong low, out ulong high);
        if (cache.TryAppend(low, high, length, output)) return;
        int start = output.Count;
        if (wholePieceLookup && tokens.TryGetShort(low, high, length, out int token)) output.Add(token);
        else MergeLinear(piece, output, cache);
        cache.Store(low, high, length, CollectionsMarshal.AsSpan(output)[start..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodeUncached(ReadOnlySpan<byte> piece, List<int> output, PieceCache cache)
    {
        // tiktoken first looks the whole piece up: a piece that is a token is that token.
        if (wholePieceLookup && tokens.TryGetValue(piece, out int token))
        {
            output.Add(token);
            return;
        }
        if (piece.Length <= LinearScanLimit) MergeLinear(piece, output, cache);
        else MergeWithHeap(piece, output);
    }

    // One part of a piece during the linear merge: its token and the merge with the next part.
    private struct Part
    {
        public int Id;
        public int Priority; // of merging with the next part; int.MaxValue when they do not merge
        public int Merged;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MergeLinear(ReadOnlySpan<byte> piece, List<int> output, PieceCache cache)
    {
        int count = piece.Length;
        Span<Part> parts = stackalloc Part[LinearScanLimit];
        for (int i = 0; i < count - 1; i++)
        {
            long pair = _bytePairs[piece[i] << 8 | piece[i + 1]];
            parts[i] = new Part { Id = byteTokens[piece[i]], Priority = (int)(pair >> 32), Merged = (int)pair };
        }
        parts[count - 1] = new Part { Id = byteTokens[piece[count - 1]], Priority = int.MaxValue };

        while (count > 1)
        {
            int best = -1;
            int bestPriority = int.MaxValue;
            for (int i = 0; i < count - 1; i++)
            {
                if (parts[i].Priority < bestPriority)
                {
                    bestPriority = parts[i].Priority;
                    best = i;
                }
            }
            if (best < 0) break;
            parts[best].Id = parts[best].Merged;
            count--;
            for (int i = best + 1; i < count; i++) parts[i] = parts[i + 1]; // drop the right part
            ref Part merged = ref parts[best];
            merged.Priority = best < count - 1 ? cache.LookupPair(pairs, merged.Id, parts[best + 1].Id, out merged.Merged) : int.MaxValue;
            if (best > 0)
            {
                ref Part left = ref parts[best - 1];
                left.Priority = cache.LookupPair(pairs, left.Id, merged.Id, out left.Merged);
            }
        }
        for (int i = 0; i < count; i++) output.Add(parts[i].Id);
    }

    private void MergeWithHeap(ReadOnlySpan<byte> piece, List<int> output)
    {
        int n = piece.Length;
        int[] ids = ArrayPool<int>.Shared.Rent(n);
        int[] next = ArrayPool<int>.Shared.Rent(n);
        int[] previous = ArrayPool<int>.Shared.Rent(n);
        long[] heap = ArrayPool<long>.Shared.Rent(2 * n);
        try
        {
            int heapCount = 0;
            for (int i = 0; i < n; i++)
            {
                ids[i] = byteTokens[piece[i]];
                next[i] = i + 1 < n ? i + 1 : -1;
                previous[i] = i - 1;
            }
            for (int i = 0; i + 1 < n; i++)
            {
                int p = pairs.Lookup(ids[i], ids[i + 1], out _);
                if (p != int.MaxValue) Push(heap, ref heapCount, p, i);
            }
            // Entries are (priority, left position); an entry is stale when the pair at that position has changed,
            // which re-looking the pair up detects. Positions keep text order, so ties go to the leftmost pair.
            while (heapCount > 0)
            {
                long top = Pop(heap, ref heapCount);
                int p = (int)(top >> 32);
                int left = (int)(top & 0xFFFFFFFF);
                if (ids[left] < 0) continue;
                int right = next[left];
                if (right < 0) continue;
                if (pairs.Lookup(ids[left], ids[right], out int mergedId) != p) continue;
                if (heapCount + 2 > heap.Length) heap = GrowHeap(heap);
                ids[left] = mergedId;
                ids[right] = -1;
                int after = next[right];
                next[left] = after;
                if (after >= 0) previous[after] = left;
                if (after >= 0)
                {
                    int q = pairs.Lookup(mergedId, ids[after], out _);
                    if (q != int.MaxValue) Push(heap, ref heapCount, q, left);
                }
                int before = previous[left];
                if (before >= 0)
                {
                    int q = pairs.Lookup(ids[before], mergedId, out _);
                    if (q != int.MaxValue) Push(heap, ref heapCount, q, before);
                }
            }
            for (int i = 0; i >= 0; i = next[i]) output.Add(ids[i]);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ids);
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(previous);
            ArrayPool<long>.Shared.Return(heap);
        }
    }

    private static long[] GrowHeap(long[] heap)
    {
        long[] larger = ArrayPool<long>.Shared.Rent(heap.Length * 2);
        heap.AsSpan().CopyTo(larger);
        ArrayPool<long>.Shared.Return(heap);
        return larger;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push(long[] heap, ref int count, int priority, int position)
    {
        long item = ((long)priority << 32) | (uint)position;
        int i = count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (heap[parent] <= item) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = item;
    }

    private static long Pop(long[] heap, ref int count)
    {
        long top = heap[0];
        long last = heap[--count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count) break;
            if (child + 1 < count && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= last) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = last;
        return top;
    }
}
