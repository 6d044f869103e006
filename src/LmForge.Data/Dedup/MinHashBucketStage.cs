using System.Buffers.Binary;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Dedup;

/// <summary>
/// MinHash dedup, stage 2 of 4 (tasks share the buckets: task r handles buckets r, r + W, ...): merges the sorted
/// signature files of one bucket from every stage-1 task and writes each document whose tuple equals an earlier one's
/// as a pair (earlier document, this document) to {folder}/buckets/BBB.pairs. Ignores its input documents.
/// </summary>
[RecipeStep("minhash_buckets")]
public sealed class MinHashBucketStage(string folder, MinHashConfig? config = null) : IPipelineStep
{
    public MinHashBucketStage(StepParameters parameters) : this(parameters.GetPath("folder"), MinHashConfig.From(parameters)) { }

    private readonly MinHashConfig _config = config ?? new MinHashConfig();

    public string Name => "minhash_buckets";

    public static string PairsPath(string folder, int bucket) => Path.Combine(folder, "buckets", $"{bucket:D3}.pairs");

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        foreach (int bucket in context.OwnShare(Enumerable.Range(0, _config.Buckets).ToArray()))
        {
            long pairs = MergeBucket(bucket);
            stats.Count("buckets_merged");
            stats.Count("duplicate_pairs", pairs);
        }
        return [];
    }

    private long MergeBucket(int bucket)
    {
        string directory = Path.GetDirectoryName(MinHashSignatureStage.SignaturePath(folder, bucket, 0))!;
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no signatures for bucket {bucket}; run the minhash_signature stage first");
        var paths = Directory.GetFiles(directory, "*.minhash.sig").Order(StringComparer.Ordinal).ToArray();
        var readers = new List<SignatureFileReader>();
        try
        {
            foreach (var path in paths)
            {
                if (!int.TryParse(Path.GetFileName(path).AsSpan(0, 5), out int task)) throw DedupFile.Bad(path, "name must start with a 5-digit task number");
                readers.Add(new SignatureFileReader(path, bucket, _config.HashesPerBucket) { Task = task });
            }
            int taskCount = readers.Count == 0 ? 0 : readers[0].TaskCount;
            foreach (var reader in readers) DedupFile.Expect(reader.Path, "task count", (uint)reader.TaskCount, (uint)taskCount);
            if (readers.Count != taskCount || readers.Select(r => r.Task).Distinct().Count() != taskCount || readers.Any(r => r.Task >= taskCount))
                throw new InvalidDataException($"{directory}: found {readers.Count} signature files, expected one per task 0..{taskCount - 1}; did every minhash_signature task finish?");
            return WritePairs(bucket, readers, taskCount);
        }
        finally
        {
            foreach (var reader in readers) reader.Dispose();
        }
    }

    private long WritePairs(int bucket, List<SignatureFileReader> readers, int taskCount)
    {
        long pairs = 0;
        AtomicFile.Write(PairsPath(folder, bucket), stream =>
        {
            stream.Write(new byte[DedupFileHeader.Size]);
            var heap = new PriorityQueue<SignatureFileReader, SignatureFileReader>(Comparer<SignatureFileReader>.Create(static (x, y) =>
            {
                int c = x.Hashes.AsSpan().SequenceCompareTo(y.Hashes);
                if (c != 0) return c;
                c = x.Task.CompareTo(y.Task);
                return c != 0 ? c : x.Document.CompareTo(y.Document);
            }));
            foreach (var reader in readers)
                if (reader.MoveNext()) heap.Enqueue(reader, reader);
            var first = new ulong[_config.HashesPerBucket];
            uint firstTask = 0, firstDocument = 0;
            bool haveFirst = false;
            var record = new byte[16];
            while (heap.TryDequeue(out var reader, out _))
            {
                if (haveFirst && reader.Hashes.AsSpan().SequenceEqual(first))
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(record, firstTask);
                    BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), firstDocument);
                    BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)reader.Task);
                    BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), reader.Document);
                    stream.Write(record);
                    pairs++;
                }
                else
                {
                    reader.Hashes.CopyTo(first, 0);
                    firstTask = (uint)reader.Task;
                    firstDocument = reader.Document;
                    haveFirst = true;
                }
                if (reader.MoveNext()) heap.Enqueue(reader, reader);
            }
            var header = new byte[DedupFileHeader.Size];
            new DedupFileHeader(DedupFile.MinHashPairsMagic, (uint)bucket, (uint)_config.Buckets, (uint)taskCount, (ulong)pairs).Write(header);
            stream.Position = 0;
            stream.Write(header);
        });
        return pairs;
    }
}
