using System.Buffers.Binary;

namespace LmForge.Tensors.SafeTensors;

public sealed partial class SafeTensorsFile
{
    /// <summary>
    /// Writes float32 tensors (in the given order) and optional metadata as a safetensors file. The file is written
    /// under a temporary name in the same directory, flushed to disk, then renamed over <paramref name="path"/>,
    /// so a crash never leaves a half-written file under the final name.
    /// </summary>
    public static void Write(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.ToList();
        var layout = new List<(string Name, IReadOnlyList<int> Shape, long Begin, long End)>(entries.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var entry in entries)
        {
            CheckEntry(path, entry, names);
            long end = offset + entry.ElementCount * sizeof(float);
            layout.Add((entry.Name, entry.Shape, offset, end));
            offset = end;
        }
        byte[] header = SafeTensorsHeader.Write(layout, metadata);

        string fullPath = System.IO.Path.GetFullPath(path);
        string temporary = $"{fullPath}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var entry in entries) entry.WriteBytes(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static void CheckEntry(string path, SafeTensorEntry entry, HashSet<string> names)
    {
        if (string.IsNullOrEmpty(entry.Name) || entry.Name == SafeTensorsHeader.MetadataKey)
            throw new ArgumentException($"{path}: tensor name {SafeTensorsText.Quote(entry.Name ?? "")} is not allowed");
        if (!names.Add(entry.Name))
            throw new ArgumentException($"{path}: tensor {SafeTensorsText.Quote(entry.Name)} is given twice");
        if (entry.Shape is null) throw new ArgumentException($"{path}: tensor {SafeTensorsText.Quote(entry.Name)} has no shape");
        long count = 1;
        foreach (int size in entry.Shape)
        {
            if (size < 0) throw new ArgumentException($"{path}: tensor {SafeTensorsText.Quote(entry.Name)} has negative shape {SafeTensorsText.Shape(entry.Shape)}");
            try { count = checked(count * size); }
            catch (OverflowException) { throw new ArgumentException($"{path}: tensor {SafeTensorsText.Quote(entry.Name)} has shape {SafeTensorsText.Shape(entry.Shape)} whose element count overflows"); }
        }
        if (count != entry.ElementCount)
            throw new ArgumentException($"{path}: tensor {SafeTensorsText.Quote(entry.Name)} has shape {SafeTensorsText.Shape(entry.Shape)} ({count} elements) but {entry.ElementCount} values");
    }
}
