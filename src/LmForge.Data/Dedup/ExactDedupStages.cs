using System.Buffers.Binary;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Dedup;

/// <summary>
/// Exact dedup, stage 1 of 3 (one task per input share): hashes each document's normalized text (the words of
/// DedupTextNormalizer, so case, punctuation, spacing and digits do not matter) to 128 bits and writes the task's
/// sorted (hash, document index) records to {folder}/hashes/RRRRR.exact. Documents are consumed.
/// </summary>
[RecipeStep("exact_dedup_signature")]
public sealed class ExactDedupSignatureStage(string folder) : IPipelineStep
{
    public ExactDedupSignatureStage(StepParameters parameters) : this(parameters.GetPath("folder")) { }

    public const int RecordSize = 20;

    public string Name => "exact_dedup_signature";

    public static string HashesPath(string folder, int task) => Path.Combine(folder, "hashes", $"{task:D5}.exact");

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        var normalizer = new DedupTextNormalizer();
        var words = new List<ulong>();
        var records = new List<(ulong High, ulong Low, uint Document)>();
        foreach (var document in documents)
        {
            stats.Received(document);
            normalizer.WordHashes(document.Text, words);
            ulong high = 0x243F6A8885A308D3UL, low = 0x13198A2E03707344UL;
            foreach (var word in words)
            {
                high = StableHash.Combine(high, word);
                low = StableHash.Combine(low, word ^ 0xA4093822299F31D0UL);
            }
            records.Add((StableHash.Finalize(high ^ (ulong)words.Count), StableHash.Finalize(low + (ulong)words.Count), (uint)records.Count));
            stats.Kept(document);
        }
        records.Sort();
        AtomicFile.Write(HashesPath(folder, context.Rank), stream =>
        {
            var buffer = new byte[RecordSize * 512];
            new DedupFileHeader(DedupFile.ExactHashesMagic, (uint)context.Rank, (uint)context.WorldSize, 0, (ulong)records.Count).Write(buffer);
            stream.Write(buffer, 0, DedupFileHeader.Size);
            int filled = 0;
            foreach (var (high, low, document) in records)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(filled), high);
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(filled + 8), low);
                BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(filled + 16), document);
                filled += RecordSize;
                if (filled == buffer.Length)
                {
                    stream.Write(buffer);
                    filled = 0;
                }
            }
            stream.Write(buffer, 0, filled);
        });
        stats.Count("hashes_written", records.Count);
        return [];
    }
}

/// <summary>
/// Exact dedup, stage 2 of 3 (tasks share the hash space: task r of W takes hashes in [r, r+1) x 2^64 / W): merges
/// the hash files of every stage-1 task, keeps the first document of each hash (lowest task, then index) and writes
/// the others to {folder}/remove/part_RRRRR/TTTTT.remove for every stage-1 task T.
/// </summary>
[RecipeStep("exact_dedup_reduce")]
public sealed class ExactDedupReduceStage(string folder) : IPipelineStep
{
    public ExactDedupReduceStage(StepParameters parameters) : this(parameters.GetPath("folder")) { }

    public string Name => "exact_dedup_reduce";

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        string directory = Path.Combine(folder, "hashes");
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: missing; run the exact_dedup_signature stage first");
        var paths = Directory.GetFiles(directory, "*.exact").Order(StringComparer.Ordinal).ToArray();
        ulong rangeStart = RangeBound(context.Rank, context.WorldSize), rangeEnd = RangeBound(context.Rank + 1, context.WorldSize);
        bool lastRange = context.Rank + 1 == context.WorldSize;

        var runs = new List<(ulong High, ulong Low, uint Task, uint Document)>();
        int taskCount = -1;
        foreach (var path in paths)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var header = DedupFile.ReadHeader(path, stream, DedupFile.ExactHashesMagic, ExactDedupSignatureStage.RecordSize);
            if (taskCount == -1) taskCount = (int)header.Field2;
            DedupFile.Expect(path, "task count", header.Field2, (uint)taskCount);
            DedupFile.Expect(path, "task", header.Field1, uint.Parse(Path.GetFileName(path).AsSpan(0, 5)));
            long first = LowerBound(stream, (long)header.RecordCount, rangeStart);
            stream.Position = DedupFileHeader.Size + first * ExactDedupSignatureStage.RecordSize;
            var record = new byte[ExactDedupSignatureStage.RecordSize];
            for (long i = first; i < (long)header.RecordCount; i++)
            {
                stream.ReadExactly(record);
                ulong high = BinaryPrimitives.ReadUInt64LittleEndian(record);
                if (!lastRange && high >= rangeEnd) break;
                runs.Add((high, BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(8)), header.Field1, BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(16))));
            }
        }
        if (paths.Length == 0 || paths.Length != taskCount)
            throw new InvalidDataException($"{directory}: found {paths.Length} hash files, expected {Math.Max(taskCount, 1)} (one per signature task); did every exact_dedup_signature task finish?");

        // The files are each sorted; one sort of the range's records by (hash, task, document) is simpler than a heap
        // and the range is 1/W of the data.
        runs.Sort();
        var removals = new List<uint>[taskCount];
        for (int t = 0; t < taskCount; t++) removals[t] = [];
        for (int i = 1; i < runs.Count; i++)
        {
            if (runs[i].High == runs[i - 1].High && runs[i].Low == runs[i - 1].Low) removals[runs[i].Task].Add(runs[i].Document);
        }
        for (int t = 0; t < taskCount; t++)
        {
            RemoveList.Write(Path.Combine(folder, "remove", $"part_{context.Rank:D5}", RemoveList.FileName(t)), t, taskCount, context.Rank, context.WorldSize, removals[t]);
            stats.Count("documents_to_remove", removals[t].Count);
        }
        stats.Count("hashes_read", runs.Count);
        return [];
    }

    private static ulong RangeBound(int index, int count) => (ulong)((UInt128)ulong.MaxValue * (ulong)index / (ulong)count);

    // First record index whose high hash is >= value (records are fixed-size and sorted).
    private static long LowerBound(FileStream stream, long count, ulong value)
    {
        long lo = 0, hi = count;
        var buffer = new byte[8];
        while (lo < hi)
        {
            long mid = lo + (hi - lo) / 2;
            stream.Position = DedupFileHeader.Size + mid * ExactDedupSignatureStage.RecordSize;
            stream.ReadExactly(buffer);
            if (BinaryPrimitives.ReadUInt64LittleEndian(buffer) < value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}

/// <summary>Exact dedup, stage 3 of 3: drops the documents listed by every exact_dedup_reduce task (reason "exact_duplicate").</summary>
[RecipeStep("exact_dedup_filter")]
public sealed class ExactDedupFilterStage(string folder) : RemoveListFilter
{
    public ExactDedupFilterStage(StepParameters parameters) : this(parameters.GetPath("folder")) { }

    public override string Name => "exact_dedup_filter";

    protected override string Reason => "exact_duplicate";

    protected override IReadOnlyList<string> RemoveListPaths(TaskContext context)
    {
        string directory = Path.Combine(folder, "remove");
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: missing; run the exact_dedup_reduce stage first");
        return [.. Directory.GetDirectories(directory, "part_*").Order(StringComparer.Ordinal)
            .Select(d => Path.Combine(d, RemoveList.FileName(context.Rank))).Where(File.Exists)];
    }
}
