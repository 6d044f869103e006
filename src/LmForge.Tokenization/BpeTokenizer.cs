using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace LmForge.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer: text is split into pieces by a <see cref="SplitPattern"/>, each piece's UTF-8 bytes
/// are merged pair by pair into ordinary tokens, and special tokens (e.g. "&lt;|endoftext|&gt;") are matched as whole
/// strings when allowed. Ids are byte-identical to tiktoken's for gpt2, cl100k_base and o200k_base.
/// Immutable after construction: one instance can encode on many threads at once.
/// </summary>
/// <example>
/// <code>
/// var tokenizer = BpeTokenizer.Cl100k("cl100k_base.tiktoken");
/// int[] ids = tokenizer.Encode("hello world");
/// string text = tokenizer.DecodeText(ids);
/// </code>
/// </example>
/// <remarks>
/// Text is a .NET string (UTF-16). A lone surrogate is encoded as U+FFFD, as tiktoken's JavaScript binding does
/// (its strings reach the encoder through UTF-8). Bytes that are not valid UTF-8 must be decoded to a string first
/// (System.Text.Encoding.UTF8 turns each invalid sequence into U+FFFD); <see cref="Decode"/> returns raw bytes, which
/// round-trip any input exactly.
/// </remarks>
public sealed partial class BpeTokenizer
{
    private readonly BytePairMerger _merger;
    private readonly ThreadLocal<PieceCache> _pieceCache = new(() => new PieceCache());
    private readonly byte[] _tokenArena;
    private readonly int[] _tokenStart;   // by id; -1 where no token has that id
    private readonly int[] _tokenLength;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly string[] _specialTokenNames; // longest first, so a longer special wins at the same offset

    /// <summary>A short name ("gpt2", "cl100k_base", "o200k_base", a file name, or the one given).</summary>
    public string Name { get; }

    /// <summary>The pre-tokenizer.</summary>
    public SplitPattern Pattern { get; }

    /// <summary>One more than the largest token id (ordinary or special), as tiktoken's n_vocab.</summary>
    public int VocabularySize => _tokenStart.Length;

    /// <summary>Number of ordinary (mergeable) tokens.</summary>
    public int OrdinaryTokenCount { get; }

    /// <summary>Special tokens: text → id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    /// <summary>The id of a special token, e.g. "&lt;|endoftext|&gt;".</summary>
    /// <exception cref="KeyNotFoundException">The tokenizer has no such special token.</exception>
    public int GetSpecialTokenId(string token) =>
        _specialTokens.TryGetValue(token, out int id) ? id
            : throw new KeyNotFoundException($"{Name} has no special token '{token}' (it has: {string.Join(", ", _specialTokens.Keys)})");

    /// <summary>Encodes with tiktoken's default policy: every special token's text is disallowed (throws).</summary>
    /// <exception cref="DisallowedSpecialTokenException">The text contains a special token's text.</exception>
    public int[] Encode(string text) => Encode(text, SpecialTokenSet.None, SpecialTokenSet.All);

    /// <summary>Encodes special tokens in <paramref name="allowedSpecial"/> as such; every other special's text throws.</summary>
    public int[] Encode(string text, SpecialTokenSet allowedSpecial) => Encode(text, allowedSpecial, SpecialTokenSet.All);

    /// <summary>
    /// Encodes like tiktoken's <c>encode(text, allowed_special, disallowed_special)</c>: text of an allowed special
    /// token becomes that token; text of a disallowed one throws; text of any other is encoded as ordinary text.
    /// <see cref="SpecialTokenSet.All"/> as <paramref name="disallowedSpecial"/> means all that are not allowed.
    /// </summary>
    /// <exception cref="DisallowedSpecialTokenException">The text contains a disallowed special token's text.</exception>
    /// <exception cref="ArgumentException">A named special token is not one of this tokenizer's.</exception>
    public int[] Encode(string text, SpecialTokenSet allowedSpecial, SpecialTokenSet disallowedSpecial)
    {
        var tokens = new List<int>(text.Length / 3 + 4);
        Encode(text, allowedSpecial, disallowedSpecial, tokens);
        return [.. tokens];
    }

    /// <summary>As <see cref="Encode(string, SpecialTokenSet, SpecialTokenSet)"/>, appending to <paramref name="tokens"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, SpecialTokenSet allowedSpecial, SpecialTokenSet disallowedSpecial, List<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(allowedSpecial);
        ArgumentNullException.ThrowIfNull(disallowedSpecial);
        ArgumentNullException.ThrowIfNull(tokens);
        string[] allowed = Resolve(allowedSpecial, nameof(allowedSpecial), except: null);
        string[] disallowed = Resolve(disallowedSpecial, nameof(disallowedSpecial), except: allowed);
        foreach (string token in disallowed)
        {
            int offset = text.IndexOf(token, StringComparison.Ordinal);
            if (offset >= 0) ThrowDisallowed(token, offset);
        }
        if (allowed.Length == 0)
        {
            EncodeOrdinary(text, tokens);
            return;
        }
        // Next occurrence of each allowed special at or after `position` (-1: none left); a special is searched
        // again only once the text before its cached occurrence is consumed, so many specials stay linear.
        Span<int> next = allowed.Length <= 16 ? stackalloc int[allowed.Length] : new int[allowed.Length];
        for (int k = 0; k < allowed.Length; k++) next[k] = text.IndexOf(allowed[k], StringComparison.Ordinal);
        int position = 0;
        while (true)
        {
            int best = -1; // allowed is longest first: at equal offsets the longer special wins
            for (int k = 0; k < allowed.Length; k++)
            {
                if (next[k] >= 0 && next[k] < position)
                {
                    int again = text[position..].IndexOf(allowed[k], StringComparison.Ordinal);
                    next[k] = again < 0 ? -1 : position + again;
                }
                if (next[k] >= 0 && (best < 0 || next[k] < next[best])) best = k;
            }
            if (best < 0)
            {
                EncodeOrdinary(text[position..], tokens);
                return;
            }
            EncodeOrdinary(text[position..next[best]], tokens);
            tokens.Add(_specialTokens[allowed[best]]);
            position = next[best] + allowed[best].Length;
        }
    }

    private string[] Resolve(SpecialTokenSet set, string parameter, string[]? except)
    {
        if (set.IsAll)
            return except is null || except.Length == 0 ? _specialTokenNames : [.. _specialTokenNames.Where(t => !except.Contains(t))];
        foreach (string token in set.Tokens)
        {
            if (!_specialTokens.ContainsKey(token))
                throw new ArgumentException($"'{token}' is not a special token of {Name} (it has: {string.Join(", ", _specialTokens.Keys)})", parameter);
        }
        return [.. set.Tokens.Distinct().OrderByDescending(t => t.Length)];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDisallowed(string token, int offset) => throw new DisallowedSpecialTokenException(token, offset);

    /// <summary>Encodes everything as plain text: special tokens' text gets ordinary tokens.</summary>
    public int[] EncodeOrdinary(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<int>(text.Length / 3 + 4);
        EncodeOrdinary(text, tokens);
        return [.. tokens];
    }

    /// <summary>Encodes everything as plain text, appending to <paramref name="tokens"/>.</summary>
    public void EncodeOrdinary(ReadOnlySpan<char> text, List<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        switch (Pattern.Kind)
        {
            case SplitPatternKind.Gpt2: EncodePieces(text, tokens, default(KnownPieces<Gpt2Scanner>)); break;
            case SplitPatternKind.Cl100k: EncodePieces(text, tokens, default(KnownPieces<Cl100kScanner>)); break;
            case SplitPatternKind.O200k: EncodePieces(text, tokens, default(KnownPieces<O200kScanner>)); break;
            default: EncodePieces(text, tokens, new PatternPieces(Pattern)); break;
        }
    }

    private const int StackBufferBytes = 1024;

    // Where the pieces come from: a struct per source, so the JIT compiles one specialized loop for each known
    // pattern's scanner (called directly, inlinable) and one for any other pattern (a virtual call).
    private interface IPieceSource
    {
        int PieceLength(ReadOnlySpan<char> text, int start);
    }

    private readonly struct KnownPieces<TScanner> : IPieceSource where TScanner : IPieceScanner
    {
        public int PieceLength(ReadOnlySpan<char> text, int start) => TScanner.PieceLength(text, start);
    }

    private readonly struct PatternPieces(SplitPattern pattern) : IPieceSource
    {
        public int PieceLength(ReadOnlySpan<char> text, int start) => pattern.PieceLength(text, start);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodePieces<TSource>(ReadOnlySpan<char> text, List<int> tokens, TSource pieces) where TSource : struct, IPieceSource
    {
        Span<byte> buffer = stackalloc byte[StackBufferBytes];
        byte[]? rented = null;
        PieceCache cache = _pieceCache.Value!;
        try
        {
            int position = 0;
            while (position < text.Length)
            {
                int length = pieces.PieceLength(text, position);
                if (length * 3 + PieceCache.MaxBytes > buffer.Length) buffer = Rent(ref rented, length * 3 + PieceCache.MaxBytes);
                _merger.Encode(buffer[..ToUtf8(text, position, length, buffer)], tokens, cache);
                position += length;
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static Span<byte> Rent(ref byte[]? rented, int size)
    {
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        rented = ArrayPool<byte>.Shared.Rent(size);
        return rented;
    }

    // UTF-16 -> UTF-8 of text[start..start + length]; lone surrogates become EF BF BD (U+FFFD), as in TextEncoder.
    // An ASCII piece of at most 16 characters is narrowed with one 16-byte store (the destination holds at least
    // PieceCache.MaxBytes): the merger packs the bytes with two 8-byte reads, which would wait on byte-wise stores.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ToUtf8(ReadOnlySpan<char> text, int start, int length, Span<byte> destination)
    {
        if (Vector128.IsHardwareAccelerated && length <= 16 && start <= text.Length - 16)
        {
            ref ushort chars = ref Unsafe.As<char, ushort>(ref MemoryMarshal.GetReference(text));
            Vector128<ushort> lower = Vector128.LoadUnsafe(ref chars, (nuint)start);
            Vector128<ushort> upper = Vector128.LoadUnsafe(ref chars, (nuint)start + 8);
            Vector128<ushort> ascii = Vector128.Create((ushort)0x7F);
            uint nonAscii = Vector128.GreaterThan(lower, ascii).ExtractMostSignificantBits()
                | Vector128.GreaterThan(upper, ascii).ExtractMostSignificantBits() << 8;
            if ((nonAscii & ((1u << length) - 1)) == 0)
            {
                Vector128.Narrow(lower, upper).StoreUnsafe(ref MemoryMarshal.GetReference(destination));
                return length;
            }
        }
        ReadOnlySpan<char> piece = text.Slice(start, length);
        int i = 0;
        for (; i < piece.Length; i++)
        {
            char c = piece[i];
            if (c >= 0x80) return i + Encoding.UTF8.GetBytes(piece[i..], destination[i..]);
            destination[i] = (byte)c;
        }
        return i;
    }

    /// <summary>The bytes of the tokens, concatenated (special tokens give their UTF-8 text).</summary>
    /// <exception cref="ArgumentException">An id is not in the vocabulary.</exception>
    public byte[] Decode(ReadOnlySpan<int> tokens)
    {
        int total = 0;
        for (int i = 0; i < tokens.Length; i++) total += TokenLength(tokens[i], i);
        var bytes = new byte[total];
        int offset = 0;
        foreach (int token in tokens)
        {
            int length = _tokenLength[token];
            Buffer.BlockCopy(_tokenArena, _tokenStart[token], bytes, offset, length);
            offset += length;
        }
        return bytes;
    }

    /// <summary>
    /// The tokens decoded as UTF-8 text. Byte sequences that are not valid UTF-8 (a token sequence may cut a
    /// character) become U+FFFD, one per maximal invalid subsequence, as Python's <c>errors="replace"</c> does.
    /// </summary>
    public string DecodeText(ReadOnlySpan<int> tokens) => Encoding.UTF8.GetString(Decode(tokens));

    /// <summary>The bytes of one token.</summary>
    /// <exception cref="ArgumentException">The id is not in the vocabulary.</exception>
    public ReadOnlySpan<byte> GetTokenBytes(int token)
    {
        int length = TokenLength(token, -1);
        return new ReadOnlySpan<byte>(_tokenArena, _tokenStart[token], length);
    }

    /// <summary>A decoder for streamed tokens that only ever emits whole characters.</summary>
    public StreamingTokenDecoder CreateStreamingDecoder() => new(this);

    private int TokenLength(int token, int position)
    {
        if ((uint)token >= (uint)_tokenStart.Length || _tokenStart[token] < 0) ThrowUnknownToken(token, position);
        return _tokenLength[token];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUnknownToken(int token, int position) =>
        throw new ArgumentException($"token id {token}{(position >= 0 ? $" at position {position}" : "")} is not in the vocabulary of {Name} (ids 0..{VocabularySize - 1})", "tokens");

    public override string ToString() => $"{Name} ({VocabularySize} tokens, pattern {Pattern.Name})";
}
