using System.Runtime.InteropServices;

namespace LmForge.Tokenization.Training;

/// <summary>
/// The BPE merge loop over a word → count table, with incremental pair statistics:
/// <list type="bullet">
/// <item>every distinct word is a run of token ids in one shared array (initially its UTF-8 bytes);</item>
/// <item>every adjacent pair (left, right) has a slot (<c>pairSlots</c>) with its number of occurrences weighted by
/// word count and a linked list of the words where it occurs (a word that no longer holds the pair is skipped
/// when met). Slots and list nodes live in flat arrays, so the millions of pairs cost the GC nothing;</item>
/// <item>a max-heap of (count, pair) with lazy invalidation picks the next merge: a popped entry whose count is
/// stale is re-queued with the current count or dropped.</item>
/// </list>
/// A merge rewrites only the words that contain the pair and adjusts the counts of the neighbouring pairs, so
/// the cost of a merge is proportional to the occurrences it touches, never a recount of the corpus.
/// Tie-break (deterministic): the highest count wins; among equal counts, the pair whose left token's bytes are
/// ordinally smallest, then whose right token's bytes are smallest.
/// When a merge yields bytes that are already a token (e.g. "ab"+"c" after "a"+"bc"), the existing id is
/// reused, so ids and byte strings stay one-to-one (as a tiktoken rank file requires).
/// </summary>
internal sealed class PairMergeLoop
{
    readonly List<byte[]> tokens = new(capacity: 1 << 16);
    readonly Dictionary<byte[], int> tokenIds = new(ByteSequenceComparer.Instance);
    readonly List<(int Left, int Right, int Merged)> merges = [];

    readonly int[] symbols;
    readonly int[] wordStart;
    readonly int[] wordLength;
    readonly long[] wordCount;

    readonly Dictionary<long, int> pairSlots = [];
    long[] slotKey = new long[1 << 16];
    long[] slotCount = new long[1 << 16];
    int[] slotFirstNode = new int[1 << 16];
    int[] slotTouchedAtMerge = new int[1 << 16];
    int slotsUsed;
    int[] nodeWord = new int[1 << 18];
    int[] nodeNext = new int[1 << 18];
    int nodesUsed;
    readonly PriorityQueue<long, Candidate> queue;
    readonly List<int> touchedSlots = [];
    int mergeNumber;

    public PairMergeLoop(IEnumerable<KeyValuePair<byte[], long>> wordCounts)
    {
        for (int b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
            tokenIds.Add(tokens[b], b);
        }
        queue = new PriorityQueue<long, Candidate>(new CandidateOrder(tokens));

        var starts = new List<int>();
        var lengths = new List<int>();
        var counts = new List<long>();
        var symbolList = new List<int>();
        foreach (var (word, count) in wordCounts)
        {
            if (word.Length < 2 || count <= 0)
                continue; // a single byte never takes part in a merge
            starts.Add(symbolList.Count);
            lengths.Add(word.Length);
            counts.Add(count);
            foreach (byte b in word)
                symbolList.Add(b);
        }
        symbols = [.. symbolList];
        wordStart = [.. starts];
        wordLength = [.. lengths];
        wordCount = [.. counts];

        for (int w = 0; w < wordStart.Length; w++)
        {
            var word = symbols.AsSpan(wordStart[w], wordLength[w]);
            for (int i = 0; i + 1 < word.Length; i++)
                AddPair(PairKey(word[i], word[i + 1]), wordCount[w], w);
        }
        queue.EnqueueRange(pairSlots.Select(p => (p.Key, new Candidate(slotCount[p.Value], Left(p.Key), Right(p.Key))))); // heapify, O(n)
        touchedSlots.Clear();
    }

    public IReadOnlyList<byte[]> Tokens => tokens;
    public IReadOnlyList<(int Left, int Right, int Merged)> Merges => merges;

    /// <summary>Merges until there are <paramref name="tokenTarget"/> tokens or no pair is left. Returns false when pairs ran out.</summary>
    public bool Run(int tokenTarget, Action<int>? onMerge = null)
    {
        while (tokens.Count < tokenTarget)
        {
            if (!queue.TryDequeue(out long key, out var candidate))
                return false;
            long current = pairSlots.TryGetValue(key, out int slot) ? slotCount[slot] : 0;
            if (current != candidate.Count)
            {
                // Stale entry: a count that went up was re-queued when it changed; one that went down is re-queued now.
                if (current > 0 && current < candidate.Count)
                    queue.Enqueue(key, candidate with { Count = current });
                continue;
            }
            Merge(key);
            onMerge?.Invoke(merges.Count);
        }
        return true;
    }

    void Merge(long key)
    {
        int left = Left(key), right = Right(key);
        byte[] bytes = [.. tokens[left], .. tokens[right]];
        if (!tokenIds.TryGetValue(bytes, out int merged))
        {
            merged = tokens.Count;
            tokens.Add(bytes);
            tokenIds.Add(bytes, merged);
        }
        merges.Add((left, right, merged));

        pairSlots.Remove(key, out int mergedSlot);
        mergeNumber++;
        for (int node = slotFirstNode[mergedSlot]; node >= 0; node = nodeNext[node])
            MergeInWord(nodeWord[node], key, left, right, merged);

        foreach (int slot in CollectionsMarshal.AsSpan(touchedSlots))
        {
            long count = slotCount[slot];
            if (count > 0)
            {
                long touched = slotKey[slot];
                queue.Enqueue(touched, new Candidate(count, Left(touched), Right(touched)));
            }
        }
        touchedSlots.Clear();
    }

    // Rewrites word w left to right, replacing each (left, right) with merged, and moves the counts of the
    // neighbouring pairs: (prev, left) → (prev, merged) and (right, next) → (merged, next). The left
    // neighbour is read from the already rewritten part, so overlapping runs ("a a a", "a b a b") come out right.
    void MergeInWord(int w, long key, int left, int right, int merged)
    {
        var word = symbols.AsSpan(wordStart[w], wordLength[w]);
        long count = wordCount[w];
        int write = 0, read = 0;
        while (read < word.Length)
        {
            if (read + 1 < word.Length && word[read] == left && word[read + 1] == right)
            {
                if (write > 0)
                {
                    int prev = word[write - 1];
                    SubtractPair(PairKey(prev, left), count, key);
                    AddPair(PairKey(prev, merged), count, w);
                }
                if (read + 2 < word.Length)
                {
                    int next = word[read + 2];
                    SubtractPair(PairKey(right, next), count, key);
                    AddPair(PairKey(merged, next), count, w);
                }
                word[write++] = merged;
                read += 2;
            }
            else
            {
                word[write++] = word[read++];
            }
        }
        wordLength[w] = write;
    }

    void AddPair(long key, long count, int word)
    {
        ref int slotRef = ref CollectionsMarshal.GetValueRefOrAddDefault(pairSlots, key, out bool exists);
        if (!exists)
            slotRef = NewSlot(key);
        int slot = slotRef;
        slotCount[slot] += count;
        int first = slotFirstNode[slot];
        if (first < 0 || nodeWord[first] != word)
        {
            if (nodesUsed == nodeWord.Length)
            {
                Array.Resize(ref nodeWord, nodesUsed * 2);
                Array.Resize(ref nodeNext, nodesUsed * 2);
            }
            nodeWord[nodesUsed] = word;
            nodeNext[nodesUsed] = first;
            slotFirstNode[slot] = nodesUsed++;
        }
        Touch(slot);
    }

    void SubtractPair(long key, long count, long mergedKey)
    {
        if (key == mergedKey)
            return; // the pair being merged is already gone
        // No re-queue: the pair's queued entry now overstates its count, so it surfaces early and is re-queued
        // with the true count then (lazy invalidation); only increases must be queued at once.
        slotCount[pairSlots[key]] -= count;
    }

    int NewSlot(long key)
    {
        if (slotsUsed == slotKey.Length)
        {
            int size = slotsUsed * 2;
            Array.Resize(ref slotKey, size);
            Array.Resize(ref slotCount, size);
            Array.Resize(ref slotFirstNode, size);
            Array.Resize(ref slotTouchedAtMerge, size);
        }
        int slot = slotsUsed++;
        slotKey[slot] = key;
        slotCount[slot] = 0;
        slotFirstNode[slot] = -1;
        slotTouchedAtMerge[slot] = -1;
        return slot;
    }

    // Remembers each pair whose count went up, once per merge, to queue it with its new count afterwards.
    void Touch(int slot)
    {
        if (slotTouchedAtMerge[slot] == mergeNumber)
            return;
        slotTouchedAtMerge[slot] = mergeNumber;
        touchedSlots.Add(slot);
    }

    static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;
    static int Left(long key) => (int)(key >> 32);
    static int Right(long key) => (int)key;

    internal readonly record struct Candidate(long Count, int Left, int Right);

    // The queue dequeues the "smallest" element, so the order puts the highest count first.
    sealed class CandidateOrder(List<byte[]> tokens) : IComparer<Candidate>
    {
        public int Compare(Candidate x, Candidate y)
        {
            if (x.Count != y.Count)
                return y.Count.CompareTo(x.Count);
            int c = tokens[x.Left].AsSpan().SequenceCompareTo(tokens[y.Left]);
            return c != 0 ? c : tokens[x.Right].AsSpan().SequenceCompareTo(tokens[y.Right]);
        }
    }
}
