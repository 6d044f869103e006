using LmForge.Data.Dedup;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Dedup;

public sealed class ExactDedupTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lmforge-exact-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 4)]
    public void NormalizedCopies_AreRemoved_NearCopiesKept(int tasks, int reduceTasks)
    {
        var corpus = new DedupTestCorpus(originals: 200, exactCopies: 25, nearCopies: 25);
        var stats = new PipelineStats();
        DedupTestCorpus.RunTasks(new ExactDedupSignatureStage(_folder), corpus.Documents, tasks, stats);
        DedupTestCorpus.RunTasks(new ExactDedupReduceStage(_folder), [], reduceTasks, stats);
        var kept = DedupTestCorpus.RunTasks(new ExactDedupFilterStage(_folder), corpus.Documents, tasks, stats);

        Assert.Equal(225, kept.Count);
        Assert.Equal(25, stats.For("exact_dedup_filter").RemovedByReason["exact_duplicate"]);
        // Every near copy survives, and each page keeps exactly one of itself and its exact copies.
        Assert.Equal(25, kept.Count(d => d.Id.StartsWith("near", StringComparison.Ordinal)));
        Assert.All(kept.Where(d => !d.Id.StartsWith("near", StringComparison.Ordinal)).GroupBy(d => corpus.Origin[d.Id]), g => Assert.Single(g));
    }

    [Fact]
    public void MissingReducePart_Fails()
    {
        var corpus = new DedupTestCorpus(originals: 20, exactCopies: 3, nearCopies: 0);
        DedupTestCorpus.RunTasks(new ExactDedupSignatureStage(_folder), corpus.Documents, 2);
        var reduce = new ExactDedupReduceStage(_folder);
        _ = reduce.Run([], new TaskContext(0, 2, new PipelineStats())).ToList(); // part 1 of 2 never runs
        var error = Assert.Throws<InvalidDataException>(() => DedupTestCorpus.RunTasks(new ExactDedupFilterStage(_folder), corpus.Documents, 2));
        Assert.Contains("found 1 part(s) of 2", error.Message, StringComparison.Ordinal);
    }
}
