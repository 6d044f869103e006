using System.Text;

namespace LmForge.Data.Readers;

/// <summary>
/// Reads the records of one WARC file (WARC/1.0 or 1.1; plain, gzip per record, or one gzip stream), skipping
/// what it cannot read with a reason: a record header that is not WARC, a missing or wrong Content-Length (found
/// when the record is not followed by its blank lines), a record over the size cap, a truncated last record, a
/// corrupt gzip member. Each skip is reported through <c>onSkip(reason, detail)</c>; reading then resumes at the
/// next line that starts a WARC record.
/// </summary>
public sealed class WarcFileReader : IDisposable
{
    private const int MaxLineBytes = 64 * 1024;
    private static ReadOnlySpan<byte> RecordEnd => "\r\n\r\n"u8;
    private static ReadOnlySpan<byte> VersionPrefix => "WARC/1."u8;

    private readonly string _path;
    private readonly ResyncingInputStream _input;
    private readonly long _maxRecordBytes;
    private readonly Action<string, string> _onSkip;
    private byte[] _buffer = new byte[128 * 1024];
    private int _start;
    private int _end;
    private bool _eof;
    private long _offset; // decompressed offset of _buffer[_start]
    private readonly HashSet<string> _recentIds = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentOrder = new();

    public WarcFileReader(string path, long maxRecordBytes, Action<string, string> onSkip)
    {
        _path = path;
        _input = new ResyncingInputStream(path);
        _maxRecordBytes = maxRecordBytes;
        _onSkip = onSkip;
    }

    /// <summary>Compressed bytes consumed so far (for progress in MB/s of input).</summary>
    public long RawPosition => _input.RawPosition;

    public IEnumerable<WarcRecord> ReadRecords()
    {
        while (true)
        {
            var (record, more) = ReadNext();
            if (record is not null) yield return record;
            if (!more) yield break;
        }
    }

    private (WarcRecord? Record, bool More) ReadNext()
    {
        try
        {
            return ReadRecord();
        }
        catch (CorruptInputException e)
        {
            // The stream now continues at the next gzip member; whatever was buffered belongs to the broken one.
            _start = _end = 0;
            _onSkip("gzip_corrupt", $"{_path}: {e.Message}");
            return (null, true);
        }
    }

    private (WarcRecord? Record, bool More) ReadRecord()
    {
        // Find the version line, skipping blank lines and reporting any garbage before it once.
        long garbageStart = -1;
        string version;
        long recordOffset;
        while (true)
        {
            long lineOffset = _offset;
            if (!TryReadLine(out var line, out bool tooLong))
            {
                if (garbageStart >= 0) _onSkip("not_a_warc_record", $"{_path}: offset {garbageStart}: bytes up to the end of the file are not a WARC record");
                return (null, false);
            }
            if (!tooLong && line.StartsWith(VersionPrefix))
            {
                version = Encoding.ASCII.GetString(line).TrimEnd();
                recordOffset = lineOffset;
                break;
            }
            if (tooLong || !line.Trim("\r\n \t"u8).IsEmpty)
            {
                if (garbageStart < 0) garbageStart = lineOffset;
            }
        }
        if (garbageStart >= 0) _onSkip("not_a_warc_record", $"{_path}: offset {garbageStart}: skipped {recordOffset - garbageStart} bytes that are not a WARC record");

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? lastName = null;
        while (true)
        {
            if (!TryReadLine(out var line, out bool tooLong))
            {
                _onSkip("truncated_record", $"{_path}: offset {recordOffset}: file ends inside the record header");
                return (null, false);
            }
            if (tooLong)
            {
                _onSkip("bad_record_header", $"{_path}: offset {recordOffset}: header line longer than {MaxLineBytes} bytes");
                return (null, true);
            }
            var text = Encoding.UTF8.GetString(line).TrimEnd('\r', '\n');
            if (text.Length == 0) break;
            if ((text[0] == ' ' || text[0] == '\t') && lastName is not null)
            {
                headers[lastName] += " " + text.Trim();
                continue;
            }
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                _onSkip("bad_record_header", $"{_path}: offset {recordOffset}: header line without a name: '{Truncate(text)}'");
                return (null, true);
            }
            lastName = text[..colon].Trim();
            headers[lastName] = text[(colon + 1)..].Trim();
        }

        if (!headers.TryGetValue("Content-Length", out var lengthText) || !long.TryParse(lengthText, out long length) || length < 0)
        {
            _onSkip("bad_content_length", $"{_path}: offset {recordOffset}: Content-Length is '{lengthText ?? "(missing)"}', expected a non-negative integer");
            return (null, true);
        }
        if (length > _maxRecordBytes)
        {
            long skipped = Skip(length + RecordEnd.Length);
            _onSkip("record_too_large", $"{_path}: offset {recordOffset}: record of {length} bytes exceeds the cap of {_maxRecordBytes}");
            return (null, skipped == length + RecordEnd.Length);
        }

        var block = new byte[length];
        int got = ReadBlock(block);
        if (got < length)
        {
            _onSkip("truncated_record", $"{_path}: offset {recordOffset}: file ends after {got} of {length} content bytes");
            return (null, false);
        }
        Span<byte> trailer = stackalloc byte[4];
        int trailerLength = ReadBlock(trailer);
        if (!trailer[..trailerLength].SequenceEqual(RecordEnd[..trailerLength]) || (trailerLength < 4 && !_eof))
        {
            // Content-Length does not match the record: give back everything after the version line and resume
            // at the next record header found in it.
            Unread(trailer[..trailerLength]);
            Unread(block);
            _onSkip("bad_content_length", $"{_path}: offset {recordOffset}: record is not followed by a blank line after Content-Length {length}");
            return (null, true);
        }

        var record = new WarcRecord(version, headers, block, recordOffset);
        if (record.Id is { } id && !Remember(id))
        {
            // Seen just before a gzip resync went back over already-read members.
            return (null, true);
        }
        return (record, true);
    }

    private bool Remember(string id)
    {
        if (!_recentIds.Add(id)) return false;
        _recentOrder.Enqueue(id);
        if (_recentOrder.Count > 256) _recentIds.Remove(_recentOrder.Dequeue());
        return true;
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "...";

    // Reads up to and including '\n'. A line longer than MaxLineBytes is consumed and reported as tooLong.
    private bool TryReadLine(out ReadOnlySpan<byte> line, out bool tooLong)
    {
        tooLong = false;
        int scanned = 0;
        while (true)
        {
            int newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int length = scanned + newline + 1;
                line = _buffer.AsSpan(_start, length);
                Advance(length);
                return true;
            }
            scanned = _end - _start;
            if (scanned >= MaxLineBytes)
            {
                tooLong = true;
                Advance(scanned);
                scanned = 0;
                // Discard the rest of the over-long line.
                while (true)
                {
                    if (_start == _end && !Fill()) { line = default; return true; }
                    int nl = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                    if (nl >= 0) { Advance(nl + 1); line = default; return true; }
                    Advance(_end - _start);
                }
            }
            if (!Fill())
            {
                if (_end > _start)
                {
                    line = _buffer.AsSpan(_start, _end - _start);
                    Advance(_end - _start);
                    return true;
                }
                line = default;
                return false;
            }
        }
    }

    private int ReadBlock(Span<byte> destination)
    {
        int copied = 0;
        while (copied < destination.Length)
        {
            if (_start == _end && !Fill()) break;
            int n = Math.Min(_end - _start, destination.Length - copied);
            _buffer.AsSpan(_start, n).CopyTo(destination[copied..]);
            Advance(n);
            copied += n;
        }
        return copied;
    }

    private long Skip(long count)
    {
        long skipped = 0;
        while (skipped < count)
        {
            if (_start == _end && !Fill()) break;
            int n = (int)Math.Min(_end - _start, count - skipped);
            Advance(n);
            skipped += n;
        }
        return skipped;
    }

    private void Advance(int n)
    {
        _start += n;
        _offset += n;
    }

    // Puts bytes back in front of the unread data (rare: only after a Content-Length mismatch).
    private void Unread(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        var merged = new byte[Math.Max(_buffer.Length, bytes.Length + _end - _start)];
        bytes.CopyTo(merged);
        _buffer.AsSpan(_start, _end - _start).CopyTo(merged.AsSpan(bytes.Length));
        _end = bytes.Length + _end - _start;
        _start = 0;
        _buffer = merged;
        _offset -= bytes.Length;
        _eof = false;
    }

    // Moves unread bytes to the front and reads more; false at end of input.
    private bool Fill()
    {
        if (_eof) return false;
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int n = _input.Read(_buffer.AsSpan(_end));
        if (n == 0)
        {
            _eof = true;
            return false;
        }
        _end += n;
        return true;
    }

    public void Dispose() => _input.Dispose();
}
