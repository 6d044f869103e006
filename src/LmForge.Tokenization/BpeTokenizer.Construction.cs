namespace LmForge.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>
    /// How far an id may lie beyond the number of tokens: ids number the tokens, with gaps allowed (o200k_base's
    /// special tokens lie 20 past its ranks), but an id from a damaged file cannot size the id tables.
    /// </summary>
    public const int MaxUnusedIds = 65_536;

    private BpeTokenizer(string name, SplitPattern pattern, List<(byte[] Bytes, int Id)> ordinary, ByteSequenceTable table,
        TokenPairTable pairs, bool wholePieceLookup, IReadOnlyDictionary<string, int>? specialTokens)
    {
        Name = name;
        Pattern = pattern;
        OrdinaryTokenCount = ordinary.Count;
        _specialTokens = new Dictionary<string, int>(specialTokens ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        _specialTokenNames = [.. _specialTokens.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal)];

        var byteTokens = new int[256];
        Span<byte> one = stackalloc byte[1];
        for (int b = 0; b < 256; b++)
        {
            one[0] = (byte)b;
            if (!table.TryGetValue(one, out byteTokens[b]))
                throw new ArgumentException($"{name}: the vocabulary lacks the single byte 0x{b:X2}; a byte-level BPE needs all 256 bytes as tokens");
        }
        _merger = new BytePairMerger(byteTokens, pairs, table, wholePieceLookup);

        int maxId = -1;
        long arenaBytes = 0;
        foreach (var (bytes, id) in ordinary)
        {
            maxId = Math.Max(maxId, id);
            arenaBytes += bytes.Length;
        }
        var specialBytes = new List<(byte[] Bytes, int Id)>();
        foreach (var (text, id) in _specialTokens)
        {
            if (id < 0) throw new ArgumentException($"{name}: special token '{text}' has negative id {id}", nameof(specialTokens));
            if (text.Length == 0) throw new ArgumentException($"{name}: a special token is empty", nameof(specialTokens));
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            specialBytes.Add((bytes, id));
            maxId = Math.Max(maxId, id);
            arenaBytes += bytes.Length;
        }
        int tokenCount = ordinary.Count + specialBytes.Count;
        if (maxId >= tokenCount + MaxUnusedIds)
            throw new ArgumentException($"{name}: id {maxId} is out of range: there are {tokenCount} tokens, so ids must be below {tokenCount + MaxUnusedIds}");
        _tokenArena = new byte[arenaBytes];
        _tokenStart = new int[maxId + 1];
        _tokenLength = new int[maxId + 1];
        Array.Fill(_tokenStart, -1);
        int offset = 0;
        foreach (var (bytes, id) in ordinary.Concat(specialBytes))
        {
            if (_tokenStart[id] >= 0)
                throw new ArgumentException($"{name}: token id {id} is given twice (to '{Printable(bytes)}' and '{Printable(_tokenArena.AsSpan(_tokenStart[id], _tokenLength[id]))}')");
            bytes.CopyTo(_tokenArena, offset);
            _tokenStart[id] = offset;
            _tokenLength[id] = bytes.Length;
            offset += bytes.Length;
        }
    }

    // The same tokenizer with more special tokens: merges and existing ids are shared, the new specials take ids
    // no token has.
    private BpeTokenizer(BpeTokenizer source, Dictionary<string, int> specialTokens, List<(byte[] Bytes, int Id)> added)
    {
        Name = source.Name;
        Pattern = source.Pattern;
        OrdinaryTokenCount = source.OrdinaryTokenCount;
        _merger = source._merger;
        _specialTokens = specialTokens;
        _specialTokenNames = [.. _specialTokens.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal)];
        int size = Math.Max(source._tokenStart.Length, added.Max(a => a.Id) + 1);
        _tokenArena = [.. source._tokenArena, .. added.SelectMany(a => a.Bytes)];
        _tokenStart = [.. source._tokenStart, .. Enumerable.Repeat(-1, size - source._tokenStart.Length)];
        _tokenLength = [.. source._tokenLength, .. new int[size - source._tokenLength.Length]];
        int offset = source._tokenArena.Length;
        foreach (var (bytes, id) in added)
        {
            _tokenStart[id] = offset;
            _tokenLength[id] = bytes.Length;
            offset += bytes.Length;
        }
    }

    /// <summary>
    /// This tokenizer with more special tokens; every existing id keeps its meaning. A special it already has with the
    /// same id is left as it is.
    /// </summary>
    /// <exception cref="ArgumentException">A name it has under another id, or an id another token already has.</exception>
    public BpeTokenizer WithSpecialTokens(IReadOnlyDictionary<string, int> specialTokens)
    {
        var all = new Dictionary<string, int>(_specialTokens, StringComparer.Ordinal);
        var added = new List<(byte[] Bytes, int Id)>();
        foreach (var (text, id) in specialTokens.OrderBy(s => s.Value))
        {
            if (_specialTokens.TryGetValue(text, out int existing))
            {
                if (existing != id) throw new ArgumentException($"{Name}: special token '{text}' already has id {existing}, not {id}", nameof(specialTokens));
                continue;
            }
            if (text.Length == 0) throw new ArgumentException($"{Name}: a special token is empty", nameof(specialTokens));
            if (id >= _specialTokens.Count + OrdinaryTokenCount + specialTokens.Count + MaxUnusedIds)
                throw new ArgumentException($"{Name}: cannot give special token '{text}' id {id}: it is out of range (more than {MaxUnusedIds} past the {_specialTokens.Count + OrdinaryTokenCount + specialTokens.Count} tokens)", nameof(specialTokens));
            if (id < 0 || (id < _tokenStart.Length && _tokenStart[id] >= 0) || added.Any(a => a.Id == id))
                throw new ArgumentException($"{Name}: cannot give special token '{text}' id {id}: {(id < 0 ? "it is negative" : "another token has it")}", nameof(specialTokens));
            all.Add(text, id);
            added.Add((System.Text.Encoding.UTF8.GetBytes(text), id));
        }
        return added.Count == 0 ? this : new BpeTokenizer(this, all, added);
    }

    /// <summary>
    /// A tokenizer from tiktoken-style mergeable ranks (token bytes → rank; the rank is the token's id): the adjacent
    /// pair whose concatenation has the lowest rank merges first, and a piece that is itself a token is that token.
    /// </summary>
    /// <exception cref="ArgumentException">A rank or byte sequence repeats, a rank is negative, a single byte is
    /// missing, or a special token's id collides with an ordinary token's.</exception>
    public static BpeTokenizer FromRanks(IEnumerable<KeyValuePair<byte[], int>> mergeableRanks, SplitPattern pattern,
        IReadOnlyDictionary<string, int>? specialTokens = null, string name = "custom")
    {
        ArgumentNullException.ThrowIfNull(mergeableRanks);
        ArgumentNullException.ThrowIfNull(pattern);
        var ordinary = new List<(byte[] Bytes, int Id)>();
        var table = new ByteSequenceTable();
        foreach (var (bytes, rank) in mergeableRanks)
        {
            if (rank < 0) throw new ArgumentException($"{name}: token '{Printable(bytes)}' has negative rank {rank}", nameof(mergeableRanks));
            if (bytes.Length == 0) throw new ArgumentException($"{name}: rank {rank} has an empty token", nameof(mergeableRanks));
            if (!table.TryAdd(bytes, rank)) throw new ArgumentException($"{name}: token '{Printable(bytes)}' appears twice", nameof(mergeableRanks));
            ordinary.Add((bytes, rank));
        }
        // Every split of a token into two tokens is a pair that merges into it, with the token's rank as priority.
        var pairs = new TokenPairTable(ordinary.Count * 2);
        foreach (var (bytes, rank) in ordinary)
        {
            for (int split = 1; split < bytes.Length; split++)
            {
                if (table.TryGetValue(bytes.AsSpan(0, split), out int left) && table.TryGetValue(bytes.AsSpan(split), out int right))
                    pairs.TryAdd(left, right, rank, rank);
            }
        }
        return new BpeTokenizer(name, pattern, ordinary, table, pairs, wholePieceLookup: true, specialTokens);
    }

    /// <summary>
    /// A tokenizer from a vocabulary (token bytes → id) and a merges list in priority order (GPT-2's vocab.bpe,
    /// Hugging Face tokenizer.json): only listed pairs merge, the earliest listed first.
    /// <paramref name="wholePieceLookup"/> makes a piece that is itself a token that token without merging
    /// (tiktoken's rule, Hugging Face's <c>ignore_merges</c>).
    /// </summary>
    /// <exception cref="ArgumentException">A merge names a token not in the vocabulary or makes one that is not in it.</exception>
    public static BpeTokenizer FromMerges(IEnumerable<KeyValuePair<byte[], int>> vocabulary, IEnumerable<(byte[] Left, byte[] Right)> merges,
        SplitPattern pattern, IReadOnlyDictionary<string, int>? specialTokens = null, string name = "custom", bool wholePieceLookup = false)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(merges);
        ArgumentNullException.ThrowIfNull(pattern);
        var ordinary = new List<(byte[] Bytes, int Id)>();
        var table = new ByteSequenceTable();
        foreach (var (bytes, id) in vocabulary)
        {
            if (id < 0) throw new ArgumentException($"{name}: token '{Printable(bytes)}' has negative id {id}", nameof(vocabulary));
            if (bytes.Length == 0) throw new ArgumentException($"{name}: id {id} has an empty token", nameof(vocabulary));
            if (!table.TryAdd(bytes, id)) throw new ArgumentException($"{name}: token '{Printable(bytes)}' appears twice", nameof(vocabulary));
            ordinary.Add((bytes, id));
        }
        var pairs = new TokenPairTable(ordinary.Count);
        int priority = 0;
        byte[] joined = new byte[256];
        foreach (var (leftBytes, rightBytes) in merges)
        {
            if (!table.TryGetValue(leftBytes, out int left))
                throw new ArgumentException($"{name}: merge {priority}: left part '{Printable(leftBytes)}' is not in the vocabulary", nameof(merges));
            if (!table.TryGetValue(rightBytes, out int right))
                throw new ArgumentException($"{name}: merge {priority}: right part '{Printable(rightBytes)}' is not in the vocabulary", nameof(merges));
            int length = leftBytes.Length + rightBytes.Length;
            if (joined.Length < length) joined = new byte[length * 2];
            leftBytes.CopyTo(joined, 0);
            rightBytes.CopyTo(joined, leftBytes.Length);
            if (!table.TryGetValue(joined.AsSpan(0, length), out int merged))
                throw new ArgumentException($"{name}: merge {priority}: '{Printable(joined.AsSpan(0, length))}' is not in the vocabulary", nameof(merges));
            pairs.TryAdd(left, right, priority, merged);
            priority++;
        }
        return new BpeTokenizer(name, pattern, ordinary, table, pairs, wholePieceLookup, specialTokens);
    }

    // Token bytes for an error message: UTF-8 text when valid, escapes otherwise.
    internal static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new System.Text.StringBuilder();
        foreach (byte b in bytes) sb.Append(b is >= 0x20 and < 0x7F && b != '\\' ? ((char)b).ToString() : $"\\x{b:X2}");
        return sb.ToString();
    }
}
