namespace LmForge.Data.Pipeline;

/// <summary>
/// Counters that readers bump as they go and a scheduler samples for its progress display. One instance may be
/// shared by all tasks of a run, so updates are atomic.
/// </summary>
public sealed class TaskProgress
{
    private long _documents;
    private long _inputBytes;

    public long Documents => Interlocked.Read(ref _documents);

    public long InputBytes => Interlocked.Read(ref _inputBytes);

    public void AddDocuments(long count) => Interlocked.Add(ref _documents, count);

    public void AddInputBytes(long count) => Interlocked.Add(ref _inputBytes, count);
}
