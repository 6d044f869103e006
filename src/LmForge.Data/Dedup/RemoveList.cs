using System.Buffers.Binary;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Dedup;

/// <summary>The sorted indices (positions in the task's input stream) of the documents one task must drop.</summary>
public static class RemoveList
{
    public static string FileName(int task) => $"{task:D5}.remove";

    public static void Write(string path, int task, int taskCount, int part, int parts, List<uint> documents)
    {
        documents.Sort();
        AtomicFile.Write(path, stream =>
        {
            var buffer = new byte[DedupFileHeader.Size];
            new DedupFileHeader(DedupFile.RemoveListMagic, (uint)task, (uint)taskCount, (uint)(part | (parts << 16)), (ulong)documents.Count).Write(buffer);
            stream.Write(buffer);
            var record = new byte[4];
            foreach (var document in documents)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(record, document);
                stream.Write(record);
            }
        });
    }

    /// <summary>Reads every part written for task under folder (the parts named in the headers must all be there) and
    /// returns their union, sorted.</summary>
    public static uint[] ReadAll(IReadOnlyList<string> paths, int task, int taskCount)
    {
        var all = new List<uint>();
        int expectedParts = -1;
        var seenParts = new HashSet<int>();
        foreach (var path in paths)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var header = DedupFile.ReadHeader(path, stream, DedupFile.RemoveListMagic, 4);
            DedupFile.Expect(path, "task", header.Field1, (uint)task);
            DedupFile.Expect(path, "task count", header.Field2, (uint)taskCount);
            int part = (int)(header.Field3 & 0xFFFF), parts = (int)(header.Field3 >> 16);
            if (expectedParts == -1) expectedParts = parts;
            DedupFile.Expect(path, "part count", (uint)parts, (uint)expectedParts);
            if (!seenParts.Add(part)) throw DedupFile.Bad(path, $"part {part} appears twice");
            // ReadHeader checked the count against the file's length; read it in pieces all the same.
            var bytes = new byte[64 << 10];
            for (ulong left = header.RecordCount * 4; left > 0;)
            {
                int piece = (int)Math.Min(left, (ulong)bytes.Length);
                stream.ReadExactly(bytes.AsSpan(0, piece));
                for (int i = 0; i < piece; i += 4) all.Add(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i)));
                left -= (ulong)piece;
            }
        }
        if (paths.Count == 0 || seenParts.Count != expectedParts)
            throw new InvalidDataException($"remove lists for task {task}: found {seenParts.Count} part(s) of {(expectedParts < 0 ? "?" : expectedParts)} ({string.Join(", ", paths)}); did the previous dedup stage finish?");
        all.Sort();
        return [.. all.Distinct()];
    }
}
