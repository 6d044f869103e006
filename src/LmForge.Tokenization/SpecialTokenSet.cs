namespace LmForge.Tokenization;

/// <summary>
/// Which special tokens an <see cref="BpeTokenizer.Encode(string, SpecialTokenSet, SpecialTokenSet)"/> call allows
/// (encodes as the special token) or disallows (throws when its text appears): <see cref="All"/>, <see cref="None"/>,
/// or <see cref="Of"/> some names, as tiktoken's <c>allowed_special</c> / <c>disallowed_special</c>.
/// </summary>
public sealed class SpecialTokenSet
{
    private SpecialTokenSet(bool isAll, string[] tokens)
    {
        IsAll = isAll;
        Tokens = tokens;
    }

    /// <summary>Every special token of the tokenizer.</summary>
    public static SpecialTokenSet All { get; } = new(true, []);

    /// <summary>No special token.</summary>
    public static SpecialTokenSet None { get; } = new(false, []);

    /// <summary>The named special tokens (their text, e.g. "&lt;|endoftext|&gt;").</summary>
    public static SpecialTokenSet Of(params string[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return new SpecialTokenSet(false, (string[])tokens.Clone());
    }

    public bool IsAll { get; }

    /// <summary>The names given to <see cref="Of"/> (empty for <see cref="All"/> and <see cref="None"/>).</summary>
    public IReadOnlyList<string> Tokens { get; }

    public override string ToString() => IsAll ? "all" : Tokens.Count == 0 ? "none" : string.Join(", ", Tokens);
}
