using System.Runtime.CompilerServices;

namespace LmForge.Tokenization;

/// <summary>
/// The pre-tokenizer: splits text into pieces, each encoded by byte-pair merges on its own. The three patterns of
/// OpenAI's encodings (<see cref="Gpt2"/>, <see cref="Cl100k"/>, <see cref="O200k"/>) run as hand-written scanners
/// that give the regex's exact matches; any other pattern (<see cref="FromRegex"/>) runs through .NET Regex.
/// </summary>
/// <example>
/// <code>
/// foreach (Range piece in SplitPattern.Cl100k.EnumeratePieces(text)) Count(text[piece]);
/// </code>
/// </example>
public abstract class SplitPattern
{
    /// <summary>GPT-2's pattern (tiktoken "gpt2", also r50k/p50k).</summary>
    public static SplitPattern Gpt2 { get; } = new ScannerSplitPattern<Gpt2Scanner>(
        "gpt2", @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", SplitPatternKind.Gpt2);

    /// <summary>cl100k_base's pattern (GPT-3.5/GPT-4).</summary>
    public static SplitPattern Cl100k { get; } = new ScannerSplitPattern<Cl100kScanner>(
        "cl100k_base",
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        SplitPatternKind.Cl100k);

    /// <summary>o200k_base's pattern (GPT-4o).</summary>
    public static SplitPattern O200k { get; } = new ScannerSplitPattern<O200kScanner>(
        "o200k_base",
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        SplitPatternKind.O200k);

    private protected SplitPattern(string name, string regex)
    {
        Name = name;
        Regex = regex;
    }

    /// <summary>A short name ("gpt2", "cl100k_base", "o200k_base", or the one given to <see cref="FromRegex"/>).</summary>
    public string Name { get; }

    /// <summary>The pattern text in tiktoken / Hugging Face syntax (what a tokenizer file stores).</summary>
    public string Regex { get; }

    internal virtual SplitPatternKind Kind => SplitPatternKind.Regex;

    /// <summary>
    /// A pattern from its regex text. The three known patterns (exact text) return the fast scanners; any other runs
    /// through .NET Regex, with possessive quantifiers (<c>x++</c>, <c>x*+</c>, <c>x?+</c>, <c>x{n,m}+</c>) rewritten
    /// as atomic groups and <c>$</c> meaning the end of text, as in Rust and Python. Text between two matches becomes a piece of its own, so no text is ever dropped. .NET Regex
    /// classifies UTF-16 units, so an astral letter (U+10000 and up) is not \p{L} in a custom pattern, and its (?i) does
    /// not fold U+017F (long s) to 's' as Rust's does.
    /// </summary>
    /// <exception cref="ArgumentException">The pattern is not a valid regex.</exception>
    public static SplitPattern FromRegex(string pattern, string name = "custom")
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern == Gpt2.Regex) return Gpt2;
        if (pattern == Cl100k.Regex) return Cl100k;
        if (pattern == O200k.Regex) return O200k;
        return new RegexSplitPattern(name, pattern);
    }

    /// <summary>Length in UTF-16 units of the piece that starts at <paramref name="start"/> (always &gt; 0, never
    /// splitting a surrogate pair).</summary>
    public abstract int PieceLength(ReadOnlySpan<char> text, int start);

    /// <summary>The pieces of <paramref name="text"/> in order, as ranges that tile it; allocates nothing.</summary>
    public PieceEnumerator EnumeratePieces(ReadOnlySpan<char> text) => new(this, text);

    /// <summary>Enumerates pieces as <see cref="Range"/>s of the text.</summary>
    public ref struct PieceEnumerator
    {
        private readonly SplitPattern _pattern;
        private readonly ReadOnlySpan<char> _text;
        private int _start;
        private int _length;

        internal PieceEnumerator(SplitPattern pattern, ReadOnlySpan<char> text)
        {
            _pattern = pattern;
            _text = text;
        }

        public readonly Range Current => new(_start, _start + _length);

        public readonly PieceEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            _start += _length;
            if (_start >= _text.Length)
            {
                _length = 0;
                return false;
            }
            _length = _pattern.PieceLength(_text, _start);
            return true;
        }
    }

    public override string ToString() => Name;
}

internal enum SplitPatternKind
{
    Regex,
    Gpt2,
    Cl100k,
    O200k,
}

internal sealed class ScannerSplitPattern<TScanner>(string name, string regex, SplitPatternKind kind) : SplitPattern(name, regex)
    where TScanner : IPieceScanner
{
    internal override SplitPatternKind Kind => kind;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override int PieceLength(ReadOnlySpan<char> text, int start)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)start, (uint)text.Length, nameof(start));
        return TScanner.PieceLength(text, start);
    }
}
