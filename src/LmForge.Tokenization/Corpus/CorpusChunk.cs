namespace LmForge.Tokenization.Corpus;

/// <summary>
/// A run of whole lines cut from one corpus file, in file order. <see cref="Sequence"/> numbers chunks over the
/// whole corpus so parallel consumers can put their results back in input order.
/// </summary>
public sealed class CorpusChunk
{
    internal CorpusChunk(string file, CorpusFormat format, long sequence, long byteOffset, long firstLine,
        byte[] buffer, int length, bool startsDocument)
    {
        File = file;
        Format = format;
        Sequence = sequence;
        ByteOffset = byteOffset;
        FirstLine = firstLine;
        Buffer = buffer;
        Length = length;
        StartsDocument = startsDocument;
    }

    public string File { get; }
    public CorpusFormat Format { get; }
    public long Sequence { get; }
    /// <summary>Offset of the first byte in the (decompressed) file.</summary>
    public long ByteOffset { get; }
    /// <summary>1-based line number of the first line.</summary>
    public long FirstLine { get; }
    internal byte[] Buffer { get; }
    public int Length { get; }
    /// <summary>For <see cref="CorpusFormat.Text"/>: true on the first chunk of a file (a new document starts).</summary>
    public bool StartsDocument { get; }

    public ReadOnlySpan<byte> Bytes => Buffer.AsSpan(0, Length);
}
