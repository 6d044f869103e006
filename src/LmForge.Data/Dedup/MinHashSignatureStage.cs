using System.Buffers.Binary;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Dedup;

/// <summary>
/// MinHash dedup, stage 1 of 4 (one task per input share): computes every document's signature and writes, for each
/// bucket, the task's (hash tuple, document index) records sorted by tuple to
/// {folder}/signatures/bucket_BBB/RRRRR.minhash.sig. Documents are consumed; nothing is passed on.
/// </summary>
[RecipeStep("minhash_signature")]
public sealed class MinHashSignatureStage(string folder, MinHashConfig? config = null) : IPipelineStep
{
    /// <summary>Recipe parameters: folder (shared by the four minhash stages) and the MinHashConfig ones.</summary>
    public MinHashSignatureStage(StepParameters parameters) : this(parameters.GetPath("folder"), MinHashConfig.From(parameters)) { }

    private readonly MinHashConfig _config = config ?? new MinHashConfig();

    public string Name => "minhash_signature";

    public static string SignaturePath(string folder, int bucket, int task) =>
        Path.Combine(folder, "signatures", $"bucket_{bucket:D3}", $"{task:D5}.minhash.sig");

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        var hasher = new MinHasher(_config);
        int hashCount = _config.HashCount;
        var signatures = new ulong[hashCount * 1024];
        int count = 0;
        foreach (var document in documents)
        {
            stats.Received(document);
            if ((long)(count + 1) * hashCount > signatures.Length) Array.Resize(ref signatures, checked(signatures.Length * 2));
            int grams = hasher.Signature(document.Text, signatures.AsSpan(count * hashCount, hashCount));
            if (grams == 0) stats.Count("documents_without_words");
            stats.Kept(document);
            count++;
        }
        stats.Count("signatures_written", count);
        WriteBuckets(signatures, count, context);
        return [];
    }

    private void WriteBuckets(ulong[] signatures, int count, TaskContext context)
    {
        int perBucket = _config.HashesPerBucket, hashCount = _config.HashCount;
        int recordSize = perBucket * 8 + 4;
        var order = new int[count];
        for (int bucket = 0; bucket < _config.Buckets; bucket++)
        {
            for (int i = 0; i < count; i++) order[i] = i;
            int offset = bucket * perBucket;
            Array.Sort(order, (x, y) =>
            {
                int c = signatures.AsSpan(x * hashCount + offset, perBucket).SequenceCompareTo(signatures.AsSpan(y * hashCount + offset, perBucket));
                return c != 0 ? c : x.CompareTo(y);
            });
            AtomicFile.Write(SignaturePath(folder, bucket, context.Rank), stream =>
            {
                var buffer = new byte[recordSize * 256];
                new DedupFileHeader(DedupFile.MinHashSignatureMagic, (uint)bucket, (uint)perBucket, (uint)context.WorldSize, (ulong)count).Write(buffer);
                stream.Write(buffer, 0, DedupFileHeader.Size);
                int filled = 0;
                foreach (int document in order)
                {
                    var record = buffer.AsSpan(filled, recordSize);
                    for (int k = 0; k < perBucket; k++)
                        BinaryPrimitives.WriteUInt64LittleEndian(record[(k * 8)..], signatures[document * hashCount + offset + k]);
                    BinaryPrimitives.WriteUInt32LittleEndian(record[(perBucket * 8)..], (uint)document);
                    filled += recordSize;
                    if (filled + recordSize > buffer.Length)
                    {
                        stream.Write(buffer, 0, filled);
                        filled = 0;
                    }
                }
                stream.Write(buffer, 0, filled);
            });
        }
    }
}
