using LmForge.Data.Dedup;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Dedup;

public sealed class MinHashDedupTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lmforge-minhash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private List<Document> RunAllStages(IReadOnlyList<Document> documents, int tasks, int bucketTasks, PipelineStats stats)
    {
        DedupTestCorpus.RunTasks(new MinHashSignatureStage(_folder), documents, tasks, stats);
        DedupTestCorpus.RunTasks(new MinHashBucketStage(_folder), [], bucketTasks, stats);
        DedupTestCorpus.RunTasks(new MinHashClusterStage(_folder), [], 1, stats);
        return DedupTestCorpus.RunTasks(new MinHashFilterStage(_folder), documents, tasks, stats);
    }

    [Fact]
    public void PlantedExactAndNearDuplicates_AreRemoved_UniquePagesKept()
    {
        var corpus = new DedupTestCorpus(originals: 300, exactCopies: 30, nearCopies: 30);
        var stats = new PipelineStats();
        var kept = RunAllStages(corpus.Documents, tasks: 3, bucketTasks: 4, stats);

        // Exactly one document survives from each page and its copies.
        var survivors = kept.GroupBy(d => corpus.Origin[d.Id]).ToList();
        Assert.Equal(300, survivors.Count);
        Assert.All(survivors, g => Assert.Single(g));
        Assert.Equal(60, stats.For("minhash_filter").RemovedByReason["minhash_duplicate"]);
    }

    [Fact]
    public void TheEarliestDocumentOfACluster_IsKept()
    {
        var a = new Document("a", string.Join(' ', Enumerable.Range(0, 60).Select(i => $"word{(char)('a' + i % 26)}{(char)('a' + i / 26)}")));
        var b = new Document("b", a.Text + " extra");
        var c = new Document("c", a.Text);
        var kept = RunAllStages([a, b, c], tasks: 1, bucketTasks: 2, new PipelineStats());
        Assert.Equal(["a"], kept.Select(d => d.Id));
    }

    [Fact]
    public void SignatureAgreement_EstimatesJaccard_AndBucketsCatchSimilarPairs()
    {
        // Pairs of 300-word pages with k words replaced; Jaccard of the 5-gram sets is computed here from the words.
        // A bucket (8 hashes) matches with probability s^8, so a pair is caught with p = 1 - (1 - s^8)^14:
        // >= 0.9996 for s >= 0.9 and <= 0.017 for s <= 0.4. Bounds below: 200 high pairs, at most 2 missed
        // (expected 0.08); 200 low pairs, at most 12 caught (expected <= 3.4, P(>12) < 1e-4).
        var random = new Random(20230828);
        var hasher = new MinHasher(new MinHashConfig());
        var sigA = new ulong[112];
        var sigB = new ulong[112];
        int highPairs = 0, highCaught = 0, lowPairs = 0, lowCaught = 0;
        double agreementError = 0;
        int measured = 0;
        while (highPairs < 200 || lowPairs < 200)
        {
            var words = Enumerable.Range(0, 300).Select(_ => Word(random)).ToArray();
            var changed = (string[])words.Clone();
            int replacements = highPairs < 200 ? random.Next(2, 5) : random.Next(40, 60);
            for (int r = 0; r < replacements; r++) changed[random.Next(changed.Length)] = Word(random);
            double jaccard = Jaccard(words, changed);
            hasher.Signature(string.Join(' ', words), sigA);
            hasher.Signature(string.Join(' ', changed), sigB);
            int agree = 0;
            bool anyBucket = false;
            for (int bucket = 0; bucket < 14; bucket++)
            {
                bool same = sigA.AsSpan(bucket * 8, 8).SequenceEqual(sigB.AsSpan(bucket * 8, 8));
                anyBucket |= same;
            }
            for (int i = 0; i < 112; i++) agree += sigA[i] == sigB[i] ? 1 : 0;
            agreementError += agree / 112.0 - jaccard;
            measured++;
            if (jaccard >= 0.9 && highPairs < 200) { highPairs++; highCaught += anyBucket ? 1 : 0; }
            else if (jaccard <= 0.4 && lowPairs < 200) { lowPairs++; lowCaught += anyBucket ? 1 : 0; }
        }
        Assert.True(highCaught >= 198, $"caught {highCaught} of 200 pairs with Jaccard >= 0.9");
        Assert.True(lowCaught <= 12, $"caught {lowCaught} of 200 pairs with Jaccard <= 0.4");
        // The fraction of equal minima is an unbiased estimate of Jaccard: its mean error over the pairs is near 0.
        Assert.InRange(agreementError / measured, -0.02, 0.02);
    }

    // Letters only: digits would all normalize to "0".
    private static string Word(Random random) => string.Concat(Enumerable.Range(0, 7).Select(_ => (char)('a' + random.Next(26))));

    private static double Jaccard(string[] a, string[] b)
    {
        static HashSet<string> Grams(string[] w) => [.. Enumerable.Range(0, w.Length - 4).Select(i => string.Join(' ', w, i, 5))];
        var ga = Grams(a);
        var gb = Grams(b);
        return (double)ga.Intersect(gb).Count() / ga.Union(gb).Count();
    }

    [Fact]
    public void Normalization_IgnoresCasePunctuationSpacingDiacriticsAndNumbers()
    {
        var normalizer = new DedupTextNormalizer();
        var a = new List<ulong>();
        var b = new List<ulong>();
        normalizer.WordHashes("Café opened on 12 March, 2021: prices at 3.50!", a);
        normalizer.WordHashes("CAFE   opened on 7 march 1999 -- prices at 10,25", b);
        Assert.Equal(9, a.Count); // cafe opened on 0 march 0 prices at 0
        Assert.Equal(a, b);
        normalizer.WordHashes("cafe opened on 0 march 0 prices at 0", b);
        Assert.Equal(a, b);
        normalizer.WordHashes("Cafe\u0301 OPENED on 0 MARCH 0 PRICES at 0", b); // decomposed e + combining acute
        Assert.Equal(a, b);
        normalizer.WordHashes("Ångström Čeština Œuvre", a);
        normalizer.WordHashes("angstrom cestina œuvre", b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void CorruptOrMissingFiles_FailWithOneLineNamingTheFile()
    {
        var corpus = new DedupTestCorpus(originals: 20, exactCopies: 2, nearCopies: 2);
        DedupTestCorpus.RunTasks(new MinHashSignatureStage(_folder), corpus.Documents, 2);

        var signature = MinHashSignatureStage.SignaturePath(_folder, 3, 1);
        var bytes = File.ReadAllBytes(signature);
        File.WriteAllBytes(signature, bytes[..^5]);
        var truncated = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new MinHashBucketStage(_folder), [], 1));
        Assert.Contains(signature, truncated.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", truncated.Message, StringComparison.Ordinal);

        bytes[0] = (byte)'X';
        File.WriteAllBytes(signature, bytes);
        var magic = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new MinHashBucketStage(_folder), [], 1));
        Assert.Contains("magic is 'XMFMHSIG', expected 'LMFMHSIG'", magic.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', magic.Message);

        File.Delete(signature);
        var missing = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new MinHashBucketStage(_folder), [], 1));
        Assert.Contains("found 1 signature files, expected one per task 0..1", missing.Message, StringComparison.Ordinal);

        var noPairs = Assert.Throws<FileNotFoundException>(() => DedupTestCorpus.RunTasks(new MinHashClusterStage(_folder), [], 1));
        Assert.Contains("003.pairs: missing", noPairs.Message, StringComparison.Ordinal); // buckets 0-2 merged before bucket 3 failed
    }

    [Fact]
    public void FilterWithChangedInputOrTaskCount_Fails()
    {
        var corpus = new DedupTestCorpus(originals: 30, exactCopies: 5, nearCopies: 5);
        _ = RunAllStages(corpus.Documents, tasks: 2, bucketTasks: 3, new PipelineStats());
        var wrongCount = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new MinHashFilterStage(_folder), corpus.Documents, 1));
        Assert.Contains("task count is 2, expected 1", wrongCount.Message, StringComparison.Ordinal);
        var shorter = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new MinHashFilterStage(_folder), [], 2));
        Assert.Contains("the input changed since the signature stage", shorter.Message, StringComparison.Ordinal);
    }
}
