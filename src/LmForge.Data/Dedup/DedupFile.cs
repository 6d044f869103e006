using System.Buffers.Binary;
using System.Text;

namespace LmForge.Data.Dedup;

/// <summary>
/// The header every dedup file starts with (32 bytes, little endian): an 8-byte ASCII magic naming the file kind,
/// u32 format version, three u32 fields whose meaning depends on the kind, and the u64 number of fixed-size records
/// that follow. Readers check magic, version, the fields they know and that the file length matches the count, and
/// fail with a one-line message naming the file.
/// </summary>
public readonly record struct DedupFileHeader(string Magic, uint Field1, uint Field2, uint Field3, ulong RecordCount)
{
    public const int Size = 32;
    public const uint Version = 1;

    public void Write(Span<byte> destination)
    {
        Encoding.ASCII.GetBytes(Magic, destination[..8]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Field1);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], Field2);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], Field3);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], RecordCount);
    }
}

/// <summary>Magic strings of the dedup file kinds and checked reading of their headers.</summary>
public static class DedupFile
{
    /// <summary>MinHash signatures of one task for one bucket. Fields: bucket, hashes per bucket, task count (world size).
    /// Record: hashes per bucket x u64, u32 document index; sorted.</summary>
    public const string MinHashSignatureMagic = "LMFMHSIG";
    /// <summary>Duplicate pairs found in one bucket. Fields: bucket, bucket count, task count.
    /// Record: u32 task, u32 document, u32 task, u32 document (the first is the earlier document).</summary>
    public const string MinHashPairsMagic = "LMFMHDUP";
    /// <summary>Sorted document indices one task must drop. Fields: task, task count, part index (of Field3 parts in all,
    /// packed as part | parts &lt;&lt; 16). Record: u32 document index.</summary>
    public const string RemoveListMagic = "LMFRMLST";
    /// <summary>Exact-dedup content hashes of one task. Fields: task, task count, 0. Record: u64, u64 (128-bit hash), u32 document; sorted.</summary>
    public const string ExactHashesMagic = "LMFEXHSH";

    public static DedupFileHeader ReadHeader(string path, FileStream stream, string expectedMagic, int recordSize)
    {
        Span<byte> header = stackalloc byte[DedupFileHeader.Size];
        if (stream.Length < DedupFileHeader.Size) throw Bad(path, $"is {stream.Length} bytes, shorter than the {DedupFileHeader.Size}-byte header");
        stream.ReadExactly(header);
        string magic = Encoding.ASCII.GetString(header[..8]);
        if (magic != expectedMagic) throw Bad(path, $"magic is '{Printable(magic)}', expected '{expectedMagic}'");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != DedupFileHeader.Version) throw Bad(path, $"format version is {version}, expected {DedupFileHeader.Version}");
        var result = new DedupFileHeader(magic, BinaryPrimitives.ReadUInt32LittleEndian(header[12..]), BinaryPrimitives.ReadUInt32LittleEndian(header[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(header[20..]), BinaryPrimitives.ReadUInt64LittleEndian(header[24..]));
        // Compared by division first: count x size can wrap (2^62 records of 4 bytes "are" 0 bytes) and match a short file.
        ulong payload = (ulong)(stream.Length - DedupFileHeader.Size);
        if (result.RecordCount > payload / (ulong)recordSize || result.RecordCount * (ulong)recordSize != payload)
            throw Bad(path, $"is {stream.Length} bytes but its header promises {result.RecordCount} records of {recordSize} bytes: truncated, not finished or a bad count");
        return result;
    }

    public static void Expect(string path, string field, uint actual, uint expected)
    {
        if (actual != expected) throw Bad(path, $"{field} is {actual}, expected {expected}");
    }

    public static InvalidDataException Bad(string path, string message) => new($"{path}: {message}");

    private static string Printable(string s) => new(s.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray());
}
