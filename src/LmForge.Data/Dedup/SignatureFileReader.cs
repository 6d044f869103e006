using System.Buffers.Binary;

namespace LmForge.Data.Dedup;

/// <summary>Streams the sorted records of one MinHash signature file, checking the header and the order.</summary>
internal sealed class SignatureFileReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly byte[] _record;
    private ulong _remaining;

    public SignatureFileReader(string path, int bucket, int hashesPerBucket)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var header = DedupFile.ReadHeader(path, _stream, DedupFile.MinHashSignatureMagic, hashesPerBucket * 8 + 4);
            DedupFile.Expect(path, "bucket", header.Field1, (uint)bucket);
            DedupFile.Expect(path, "hashes per bucket", header.Field2, (uint)hashesPerBucket);
            TaskCount = (int)header.Field3;
            _remaining = header.RecordCount;
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
        _record = new byte[hashesPerBucket * 8 + 4];
        Hashes = new ulong[hashesPerBucket];
        Previous = new ulong[hashesPerBucket];
    }

    public string Path { get; }
    public int TaskCount { get; }
    public int Task { get; init; }
    public ulong[] Hashes { get; }
    private ulong[] Previous { get; }
    public uint Document { get; private set; }
    private bool _started;

    public bool MoveNext()
    {
        if (_remaining == 0) return false;
        _stream.ReadExactly(_record);
        _remaining--;
        Hashes.CopyTo(Previous, 0);
        for (int k = 0; k < Hashes.Length; k++) Hashes[k] = BinaryPrimitives.ReadUInt64LittleEndian(_record.AsSpan(k * 8));
        Document = BinaryPrimitives.ReadUInt32LittleEndian(_record.AsSpan(Hashes.Length * 8));
        if (_started && Hashes.AsSpan().SequenceCompareTo(Previous) < 0)
            throw DedupFile.Bad(Path, $"records are not sorted at document {Document}; re-run the signature stage for this task");
        _started = true;
        return true;
    }

    public void Dispose() => _stream.Dispose();
}
