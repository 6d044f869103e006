using System.IO.Compression;

namespace LmForge.Data.Readers;

/// <summary>
/// The decompressed bytes of a plain or gzip file (gzip as Common Crawl ships WARC: one member per record, members
/// concatenated). When a gzip member is corrupt, Read throws <see cref="CorruptInputException"/> once and then
/// continues from the next gzip member header found in the raw file, so one bad record costs that record (and at
/// worst its neighbours in the same read chunk), never the rest of the file.
/// </summary>
internal sealed class ResyncingInputStream : IDisposable
{
    private const int ChunkSize = 64 * 1024;
    private readonly FileStream _raw;
    private readonly bool _gzip;
    private readonly PositionTrackingStream _tracked;
    private Stream _current;
    private long _currentMemberStart;

    public ResyncingInputStream(string path)
    {
        _raw = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        Span<byte> magic = stackalloc byte[2];
        int n = _raw.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        _raw.Position = 0;
        _gzip = n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
        _tracked = new PositionTrackingStream(_raw);
        _current = _gzip ? new GZipStream(_tracked, CompressionMode.Decompress, leaveOpen: true) : _tracked;
    }

    public bool IsGzip => _gzip;

    /// <summary>Raw (compressed) bytes consumed so far.</summary>
    public long RawPosition => _raw.Position;

    public long RawLength => _raw.Length;

    public int Read(Span<byte> buffer)
    {
        if (!_gzip) return _current.Read(buffer);
        try
        {
            return _current.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            long failedNear = _tracked.LastReadStart;
            ResyncAfter(Math.Max(failedNear, _currentMemberStart + 1));
            throw new CorruptInputException($"gzip data corrupt near compressed offset {failedNear}: {e.Message}");
        }
    }

    private void ResyncAfter(long from)
    {
        _current.Dispose();
        long next = FindGzipHeader(from);
        if (next < 0)
        {
            _raw.Position = _raw.Length;
            _current = Stream.Null;
            return;
        }
        _raw.Position = next;
        _currentMemberStart = next;
        _current = new GZipStream(_tracked, CompressionMode.Decompress, leaveOpen: true);
    }

    // A gzip member starts with 1F 8B 08 (deflate); the flag byte must not use its reserved bits.
    private long FindGzipHeader(long from)
    {
        var buffer = new byte[ChunkSize];
        long position = from;
        while (position < _raw.Length)
        {
            _raw.Position = position;
            int n = _raw.ReadAtLeast(buffer, Math.Min(buffer.Length, (int)Math.Min(int.MaxValue, _raw.Length - position)), throwOnEndOfStream: false);
            for (int i = 0; i + 3 < n; i++)
            {
                if (buffer[i] == 0x1F && buffer[i + 1] == 0x8B && buffer[i + 2] == 0x08 && (buffer[i + 3] & 0xE0) == 0) return position + i;
            }
            if (n < 4) break;
            position += n - 3;
        }
        return -1;
    }

    public void Dispose()
    {
        _current.Dispose();
        _raw.Dispose();
    }

    /// <summary>Remembers where the last read from the raw file started, to resync near a failure.</summary>
    private sealed class PositionTrackingStream(FileStream inner) : Stream
    {
        public long LastReadStart { get; private set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            LastReadStart = inner.Position;
            return inner.Read(buffer);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Input bytes that cannot be decoded (a corrupt gzip member); the reader skips past them.</summary>
internal sealed class CorruptInputException(string message) : Exception(message);
