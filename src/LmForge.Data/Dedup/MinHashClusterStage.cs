using System.Buffers.Binary;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Dedup;

/// <summary>
/// MinHash dedup, stage 3 of 4 (one task): joins the duplicate pairs of every bucket with union-find; in each cluster
/// the earliest document (lowest task, then lowest index) is kept and the others are written to the per-task remove
/// lists {folder}/remove/RRRRR.remove (one per stage-1 task, empty ones too). Ignores its input documents.
/// </summary>
[RecipeStep("minhash_cluster")]
public sealed class MinHashClusterStage(string folder, MinHashConfig? config = null) : IPipelineStep
{
    public MinHashClusterStage(StepParameters parameters) : this(parameters.GetPath("folder"), MinHashConfig.From(parameters)) { }

    private readonly MinHashConfig _config = config ?? new MinHashConfig();

    public string Name => "minhash_cluster";

    public static string RemovePath(string folder, int task) => Path.Combine(folder, "remove", RemoveList.FileName(task));

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        if (context.Rank != 0) return [];
        var stats = context.Stats.For(Name);
        var parent = new Dictionary<ulong, ulong>();
        int taskCount = -1;
        for (int bucket = 0; bucket < _config.Buckets; bucket++)
        {
            string path = MinHashBucketStage.PairsPath(folder, bucket);
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; did every minhash_buckets task finish?", path);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var header = DedupFile.ReadHeader(path, stream, DedupFile.MinHashPairsMagic, 16);
            DedupFile.Expect(path, "bucket", header.Field1, (uint)bucket);
            DedupFile.Expect(path, "bucket count", header.Field2, (uint)_config.Buckets);
            if (taskCount == -1) taskCount = (int)header.Field3;
            DedupFile.Expect(path, "task count", header.Field3, (uint)taskCount);
            var record = new byte[16];
            for (ulong i = 0; i < header.RecordCount; i++)
            {
                stream.ReadExactly(record);
                ulong a = Key(record, 0), b = Key(record, 8);
                Union(parent, a, b);
            }
            stats.Count("pairs_read", (long)header.RecordCount);
        }

        var removals = new List<uint>[taskCount];
        for (int t = 0; t < taskCount; t++) removals[t] = [];
        long clusters = 0;
        foreach (var node in parent.Keys)
        {
            ulong root = Find(parent, node);
            if (root == node) clusters++;
            else removals[(int)(node >> 32)].Add((uint)node);
        }
        for (int t = 0; t < taskCount; t++)
        {
            RemoveList.Write(RemovePath(folder, t), t, taskCount, part: 0, parts: 1, removals[t]);
            stats.Count("documents_to_remove", removals[t].Count);
        }
        stats.Count("clusters", clusters);
        return [];
    }

    private static ulong Key(byte[] record, int offset) =>
        ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(offset)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(offset + 4));

    private static ulong Find(Dictionary<ulong, ulong> parent, ulong x)
    {
        ulong root = x;
        while (parent.TryGetValue(root, out var p) && p != root) root = p;
        while (x != root)
        {
            ulong next = parent[x];
            parent[x] = root;
            x = next;
        }
        return root;
    }

    // The smaller key (earlier task and document) becomes the root, so it is the one kept.
    private static void Union(Dictionary<ulong, ulong> parent, ulong a, ulong b)
    {
        parent.TryAdd(a, a);
        parent.TryAdd(b, b);
        ulong ra = Find(parent, a), rb = Find(parent, b);
        if (ra == rb) return;
        if (ra < rb) parent[rb] = ra;
        else parent[ra] = rb;
    }
}
