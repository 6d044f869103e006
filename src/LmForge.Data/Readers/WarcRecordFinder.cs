namespace LmForge.Data.Readers;

/// <summary>
/// Finds record N (1-based) of a WARC file, or its first response record, reading the whole file to count its
/// records by type; a number out of range is an <see cref="InvalidOperationException"/> naming the record count.
/// </summary>
public static class WarcRecordFinder
{
    /// <summary>The largest record read (64 MiB); longer ones are skipped and listed.</summary>
    public const long MaxRecordBytes = 64L << 20;

    /// <summary>The record, its number, the file's record count, the counts by type ("1 warcinfo, 2 response") and any skipped records.</summary>
    public sealed record Found(WarcRecord Record, int Number, int Count, string CountsByType, IReadOnlyList<string> Skipped);

    public static Found Find(string path, int? number)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        if (number is < 1) throw new InvalidOperationException($"--record: expected a record number from 1, got {number}");
        var skips = new List<string>();
        using var reader = new WarcFileReader(path, MaxRecordBytes, (reason, detail) => skips.Add($"{reason}: {detail}"));
        int index = 0;
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        WarcRecord? found = null;
        int foundIndex = 0;
        foreach (var record in reader.ReadRecords())
        {
            index++;
            types[record.Type ?? "(none)"] = types.GetValueOrDefault(record.Type ?? "(none)") + 1;
            if (found is null && (number == index || (number is null && record.Type == "response")))
            {
                found = record;
                foundIndex = index;
            }
        }
        string counts = string.Join(", ", types.Select(t => $"{t.Value} {t.Key}"));
        if (found is null)
            throw new InvalidOperationException(number is null
                ? $"{path}: no response record among its {index} records ({counts})"
                : $"{path}: --record {number} is out of range: the file has {index} records (1..{index})");
        return new Found(found, foundIndex, index, counts, skips);
    }
}
