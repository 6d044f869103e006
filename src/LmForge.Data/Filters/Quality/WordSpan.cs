namespace LmForge.Data.Filters.Quality;

/// <summary>One word of a text, as a range into that text (no string is allocated per word).</summary>
public readonly record struct WordSpan(int Start, int Length)
{
    public ReadOnlySpan<char> In(string text) => text.AsSpan(Start, Length);
}
