using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Training;

/// <summary>
/// Pre-tokenizes a corpus into a piece → count table on several threads: one thread reads chunks of whole
/// lines (bounded queue, so memory stays flat however large the corpus), each worker decodes its chunks,
/// splits them with the split pattern and counts pieces in its own table; the tables are summed at the end.
/// Counting is order-independent, so the result does not depend on the thread count.
/// </summary>
internal sealed class WordCounter(SplitPattern splitPattern, int threads)
{
    long piecesCounted;

    public long PiecesCounted => Interlocked.Read(ref piecesCounted);

    public Dictionary<string, long> CountChunks(IEnumerable<CorpusChunk> chunks, Action? afterEachChunk = null)
    {
        var queue = new BlockingCollection<CorpusChunk>(boundedCapacity: threads * 4);
        var errors = new ConcurrentBag<(long Sequence, Exception Error)>();
        using var failed = new CancellationTokenSource();
        var tables = new Dictionary<string, long>[threads];
        var workers = new Task[threads];
        for (int t = 0; t < threads; t++)
        {
            int worker = t;
            tables[worker] = new Dictionary<string, long>(1 << 16);
            workers[worker] = Task.Factory.StartNew(() =>
            {
                foreach (var chunk in queue.GetConsumingEnumerable())
                {
                    try
                    {
                        CountChunk(chunk, tables[worker]);
                    }
                    catch (Exception e) when (e is InvalidDataException or ArgumentException)
                    {
                        errors.Add((chunk.Sequence, e));
                        failed.Cancel();
                        return;
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        try
        {
            foreach (var chunk in chunks)
            {
                queue.Add(chunk, failed.Token);
                afterEachChunk?.Invoke();
            }
        }
        catch (OperationCanceledException) when (failed.IsCancellationRequested)
        {
            // A worker failed: stop reading; its error is reported below.
        }
        finally
        {
            queue.CompleteAdding();
            Task.WaitAll(workers);
        }
        // Chunks are handed out in order, so every chunk before the failing one was counted to its end:
        // the error with the lowest sequence is the first bad spot of the corpus, whatever the thread count.
        if (!errors.IsEmpty)
            throw errors.MinBy(e => e.Sequence).Error;

        var total = tables.MaxBy(t => t.Count)!;
        foreach (var table in tables)
        {
            if (ReferenceEquals(table, total))
                continue;
            foreach (var (piece, count) in table)
                CollectionsMarshal.GetValueRefOrAddDefault(total, piece, out _) += count;
        }
        return total;
    }

    void CountChunk(CorpusChunk chunk, Dictionary<string, long> table)
    {
        if (chunk.Format == CorpusFormat.Text)
            CountText(CorpusDocuments.DecodeText(chunk), table);
        else
            CorpusDocuments.ForEachJsonlText(chunk, text => CountText(text, table));
    }

    public void CountText(string text, Dictionary<string, long> table)
    {
        var lookup = table.GetAlternateLookup<ReadOnlySpan<char>>();
        long pieces = 0;
        var chars = text.AsSpan();
        foreach (var range in splitPattern.EnumeratePieces(chars))
        {
            var piece = chars[range];
            CollectionsMarshal.GetValueRefOrAddDefault(lookup, piece, out _)++;
            pieces++;
        }
        Interlocked.Add(ref piecesCounted, pieces);
    }

    /// <summary>The piece table with UTF-8 byte keys, as the merge loop wants it.</summary>
    public static IEnumerable<KeyValuePair<byte[], long>> ToUtf8(Dictionary<string, long> table) =>
        table.Select(kv => KeyValuePair.Create(Encoding.UTF8.GetBytes(kv.Key), kv.Value));
}
