using System.Buffers.Binary;
using System.IO.Compression;

namespace LmForge.Tokenization.Corpus;

/// <summary>
/// Decompresses a gzip file member by member (RFC 1952): parses each header itself, inflates the raw deflate
/// data, then locates that member's 8-byte trailer. <see cref="DeflateStream"/> reads ahead, so the trailer is
/// found by its content: the first position at or before the bytes consumed whose ISIZE field equals the
/// member's decompressed length mod 2^32 and that is followed by the end of the file or the next member's magic
/// bytes. A member with no such trailer was cut short; one whose only ISIZE match is followed by other bytes
/// is reported as trailing data that is not a gzip member.
/// </summary>
internal sealed class GzipInputStream(string path, FileStream file) : Stream
{
    const int TrailerSearchWindow = 1 << 16; // DeflateStream's read-ahead is 8 KiB; this is a safe margin.

    DeflateStream? _member;
    long _memberStart, _memberLength;
    bool _ended;

    public long CompressedPosition => file.Position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty || _ended)
            return 0;
        while (true)
        {
            if (_member is null && !StartMember())
            {
                _ended = true;
                return 0;
            }
            int read = _member!.Read(buffer);
            if (read > 0)
            {
                _memberLength += read;
                return read;
            }
            EndMember();
        }
    }

    // Parses the next member's header; false at the end of the file after a complete member.
    bool StartMember()
    {
        if (file.Position == file.Length)
            return false;
        _memberStart = file.Position;
        Span<byte> header = stackalloc byte[10];
        ReadHeaderBytes(header);
        if (header[0] != 0x1F || header[1] != 0x8B)
            throw new InvalidDataException($"{path}: bytes after a gzip member at compressed byte {_memberStart} are not a gzip member");
        if (header[2] != 8)
            throw new InvalidDataException($"{path}: gzip member at compressed byte {_memberStart} has compression method {header[2]}, expected 8 (deflate)");
        byte flags = header[3];
        if ((flags & 0x04) != 0) // FEXTRA
        {
            Span<byte> length = stackalloc byte[2];
            ReadHeaderBytes(length);
            SkipHeaderBytes(BinaryPrimitives.ReadUInt16LittleEndian(length));
        }
        if ((flags & 0x08) != 0) SkipZeroTerminated(); // FNAME
        if ((flags & 0x10) != 0) SkipZeroTerminated(); // FCOMMENT
        if ((flags & 0x02) != 0) SkipHeaderBytes(2); // FHCRC
        _member = new DeflateStream(file, CompressionMode.Decompress, leaveOpen: true);
        _memberLength = 0;
        return true;
    }

    void EndMember()
    {
        long consumed = file.Position;
        _member!.Dispose();
        _member = null;
        long low = Math.Max(_memberStart, consumed - TrailerSearchWindow);
        long high = Math.Min(consumed, file.Length - 8);
        if (high < low)
            throw GzipTruncated.Error(path, file.Length);
        var window = new byte[(int)(Math.Min(high + 10, file.Length) - low)];
        file.Position = low;
        file.ReadExactly(window);
        uint size = (uint)_memberLength;
        long sizeOnly = -1;
        for (long trailer = low; trailer <= high; trailer++)
        {
            int at = (int)(trailer - low);
            if (BinaryPrimitives.ReadUInt32LittleEndian(window.AsSpan(at + 4)) != size)
                continue;
            long next = trailer + 8;
            if (sizeOnly < 0)
                sizeOnly = next;
            if (next == file.Length || (next + 2 <= file.Length && window[at + 8] == 0x1F && window[at + 9] == 0x8B))
            {
                file.Position = next;
                return;
            }
        }
        if (sizeOnly < 0)
            throw GzipTruncated.Error(path, file.Length);
        file.Position = sizeOnly; // a trailer followed by something else: StartMember reports what follows
    }

    void ReadHeaderBytes(Span<byte> bytes)
    {
        if (file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
            throw GzipTruncated.Error(path, file.Length);
    }

    void SkipHeaderBytes(int count)
    {
        if (file.Position + count > file.Length)
            throw GzipTruncated.Error(path, file.Length);
        file.Position += count;
    }

    void SkipZeroTerminated()
    {
        int b;
        while ((b = file.ReadByte()) > 0) { }
        if (b < 0)
            throw GzipTruncated.Error(path, file.Length);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _member?.Dispose();
            file.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
