using System.Runtime.InteropServices;

namespace LmForge.Tokenization.Training;

/// <summary>
/// The BPE merge loop over a word → count table, with incremental pair statistics:
/// <list type="bullet">
/// <item>every distinct word is a run of token ids in one shared array (initially its UTF-8 bytes);</item>
/// <item><c>pairCount</c> holds, for every adjacent pair (left, right), the number of occurrences weighted by word count;</item>
/// <item><c>pairWords</c> lists the words where the pair occurs (it may hold words that no longer do: they are skipped);</item>
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

    readonly Dictionary<long, long> pairCount = [];
    readonly Dictionary<long, List<int>> pairWords = [];
    readonly PriorityQueue<long, Candidate> queue;
    readonly HashSet<long> touchedPairs = [];

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
        foreach (var (key, count) in pairCount)
            queue.Enqueue(key, new Candidate(count, Left(key), Right(key)));
        touchedPairs.Clear();
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
            long current = pairCount.GetValueOrDefault(key);
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

        var words = pairWords[key];
        pairWords.Remove(key);
        pairCount.Remove(key);
        foreach (int w in CollectionsMarshal.AsSpan(words))
            MergeInWord(w, key, left, right, merged);

        foreach (long touched in touchedPairs)
        {
            long count = pairCount.GetValueOrDefault(touched);
            if (count > 0)
                queue.Enqueue(touched, new Candidate(count, Left(touched), Right(touched)));
        }
        touchedPairs.Clear();
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
        ref long total = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCount, key, out _);
        total += count;
        ref var words = ref CollectionsMarshal.GetValueRefOrAddDefault(pairWords, key, out _);
        words ??= [];
        if (words.Count == 0 || words[^1] != word)
            words.Add(word);
        touchedPairs.Add(key);
    }

    void SubtractPair(long key, long count, long mergedKey)
    {
        if (key == mergedKey)
            return; // the pair being merged is already gone
        ref long total = ref CollectionsMarshal.GetValueRefOrNullRef(pairCount, key);
        total -= count;
        touchedPairs.Add(key);
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
