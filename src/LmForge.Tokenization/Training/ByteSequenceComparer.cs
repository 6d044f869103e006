namespace LmForge.Tokenization.Training;

/// <summary>Equality and ordinal (lexicographic, unsigned) order of byte arrays.</summary>
internal sealed class ByteSequenceComparer : IEqualityComparer<byte[]>, IComparer<byte[]>
{
    public static readonly ByteSequenceComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}
