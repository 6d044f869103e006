using System.Text.RegularExpressions;
using LmForge.Tokenization.Corpus;

namespace LmForge.Tokenization.Shards;

/// <summary>
/// Turns documents (text / JSONL files, optionally gzip, a file or a directory) into llm.c token shards:
/// every document is preceded by the separator token (<c>&lt;|endoftext|&gt;</c>), the token stream is cut into
/// shards of exactly <see cref="TokenizeOptions.ShardTokens"/> (documents run across shard boundaries, as in
/// llm.c), the first <see cref="TokenizeOptions.ValidationTokens"/> tokens form the validation shard.
/// The input is read in chunks of whole lines; a batch of chunks is encoded in parallel and written in input
/// order, so the shards are byte-identical for any thread count. A shard is written under a temporary name and
/// renamed when complete, and the set has a marker (<see cref="TokenShardFormat.UnfinishedMarker"/>) from before
/// the first shard until after the last: an interrupted run leaves neither a shard nor a set that looks whole.
/// A corpus with no text is an error; one smaller than the validation shard is logged as a warning, since it
/// leaves no training shard.
/// <code>
/// var result = CorpusTokenizer.Run(tokenizer, "docs.jsonl.gz", "shards/", new TokenizeOptions { ShardTokens = 100_000_000 });
/// </code>
/// Text files are whole documents; text inside a document is encoded as ordinary text (special tokens' text
/// included), so only the separator the tokenizer adds is a special token.
/// </summary>
public static class CorpusTokenizer
{
    public static TokenizeResult Run(BpeTokenizer tokenizer, string input, string outputDirectory, TokenizeOptions? options = null)
    {
        options ??= new TokenizeOptions();
        if (options.ShardTokens < 1 || options.ShardTokens > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(options), $"TokenizeOptions.ShardTokens is {options.ShardTokens}, expected 1..{int.MaxValue}");
        long validationTokens = options.ValidationTokens ?? options.ShardTokens;
        if (validationTokens < 0 || validationTokens > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(options), $"TokenizeOptions.ValidationTokens is {validationTokens}, expected 0..{int.MaxValue}");
        if (!tokenizer.SpecialTokens.TryGetValue(options.DocumentSeparator, out int separator))
            throw new ArgumentException($"tokenizer {tokenizer.Name} has no special token {options.DocumentSeparator} to separate documents", nameof(tokenizer));

        var files = CorpusReader.ListFiles(input);
        long totalBytes = CorpusReader.TotalBytes(files);
        Directory.CreateDirectory(outputDirectory);
        string marker = TokenShardFormat.UnfinishedMarker(outputDirectory, options.Prefix);
        Saving.AtomicFile.WriteText(marker, $"lmforge tokenize of {input} started {DateTime.UtcNow:O} (process {Environment.ProcessId}); the shards {options.Prefix}_*.bin are not complete while this file exists\n");
        RemoveEarlierShards(outputDirectory, options.Prefix, options.Log);
        var sink = new ShardSink(outputDirectory, options.Prefix, tokenizer.VocabularySize, validationTokens, options.ShardTokens);
        long bytesRead = 0, documents = 0;
        int threads = Math.Max(1, options.Threads);
        var batch = new List<CorpusChunk>(threads * 4);
        var encoded = new List<int>[threads * 4];
        var documentCounts = new long[threads * 4];
        var errors = new Exception?[threads * 4];
        try
        {
            foreach (var chunk in CorpusReader.ReadChunks(files, options.ChunkBytes, read => bytesRead = read))
            {
                batch.Add(chunk);
                if (batch.Count == encoded.Length)
                    Flush();
            }
            Flush();
            // Every document starts with the separator: a corpus whose tokens are only separators has no text.
            if (sink.TotalTokens == documents)
                throw new InvalidDataException($"{input}: no text to tokenize ({documents} document(s), all empty, in {files.Count} file(s))");
            sink.Complete();
        }
        catch
        {
            sink.Abandon();
            throw;
        }
        File.Delete(marker);
        if (validationTokens > 0 && sink.TotalTokens <= validationTokens)
            options.Log?.Invoke($"warning: the corpus has {sink.TotalTokens:N0} tokens, no more than the validation shard's {validationTokens:N0}: " +
                "all of them went to validation and no training shard was written; pass a smaller validation size (e.g. a tenth of the tokens)");
        options.Progress?.Report(new TokenizeProgress(bytesRead, totalBytes, documents, sink.TotalTokens, sink.Shards.Count));
        return new TokenizeResult(sink.Shards, documents, sink.TotalTokens, bytesRead);

        void Flush()
        {
            Parallel.For(0, batch.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                var tokens = encoded[i] ??= new List<int>(1 << 18);
                tokens.Clear();
                try
                {
                    documentCounts[i] = EncodeChunk(tokenizer, batch[i], separator, tokens);
                }
                catch (InvalidDataException e)
                {
                    errors[i] = e;
                }
            });
            // The first bad chunk in input order is reported, whatever the thread count.
            if (errors.FirstOrDefault(e => e is not null) is { } error)
                throw error;
            for (int i = 0; i < batch.Count; i++)
            {
                sink.Append(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(encoded[i]));
                documents += documentCounts[i];
            }
            batch.Clear();
            options.Progress?.Report(new TokenizeProgress(bytesRead, totalBytes, documents, sink.TotalTokens, sink.Shards.Count));
        }
    }

    static long EncodeChunk(BpeTokenizer tokenizer, CorpusChunk chunk, int separator, List<int> tokens)
    {
        if (chunk.Format == CorpusFormat.Text)
        {
            if (chunk.StartsDocument)
                tokens.Add(separator);
            tokenizer.EncodeOrdinary(CorpusDocuments.DecodeText(chunk), tokens);
            return chunk.StartsDocument ? 1 : 0;
        }
        long count = 0;
        CorpusDocuments.ForEachJsonlText(chunk, text =>
        {
            tokens.Add(separator);
            tokenizer.EncodeOrdinary(text, tokens);
            count++;
        });
        return count;
    }

    /// <summary>
    /// Deletes <c>{prefix}_val_NNNNNN.bin</c> / <c>{prefix}_train_NNNNNN.bin</c> (and their <c>.partial</c> files)
    /// left by an earlier run, so a <c>{prefix}_train_*.bin</c> glob never mixes two runs' shards.
    /// </summary>
    static void RemoveEarlierShards(string directory, string prefix, Action<string>? log)
    {
        var shardName = new Regex($"^{Regex.Escape(prefix)}_(val|train)_[0-9]{{6,}}\\.bin(\\.partial)?$", RegexOptions.CultureInvariant);
        var earlier = Directory.EnumerateFiles(directory)
            .Where(f => shardName.IsMatch(Path.GetFileName(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var file in earlier)
            File.Delete(file);
        if (earlier.Count > 0)
            log?.Invoke($"removed {earlier.Count} shard file(s) of an earlier run from {directory} ({prefix}_val_*.bin, {prefix}_train_*.bin)");
    }

    /// <summary>Cuts the ordered token stream into the validation shard and then training shards.</summary>
    sealed class ShardSink(string directory, string prefix, int vocabSize, long validationTokens, long shardTokens)
    {
        readonly List<string> shards = [];
        TokenShardWriter? current;
        long currentCapacity;
        int nextIndex = validationTokens > 0 ? 0 : 1;

        public IReadOnlyList<string> Shards => shards;
        public long TotalTokens { get; private set; }

        public void Append(ReadOnlySpan<int> tokens)
        {
            while (!tokens.IsEmpty)
            {
                if (current is null)
                    Open();
                int take = (int)Math.Min(tokens.Length, currentCapacity - current!.TokenCount);
                current.Append(tokens[..take]);
                tokens = tokens[take..];
                TotalTokens += take;
                if (current.TokenCount == currentCapacity)
                    Close();
            }
        }

        void Open()
        {
            int index = nextIndex++;
            bool validation = index == 0;
            string split = validation ? "val" : "train";
            string path = Path.Combine(directory, $"{prefix}_{split}_{index:D6}.bin");
            current = new TokenShardWriter(path, vocabSize);
            currentCapacity = validation ? validationTokens : shardTokens;
        }

        void Close()
        {
            current!.Complete();
            shards.Add(current.Path);
            current.Dispose();
            current = null;
        }

        public void Complete()
        {
            if (current is { TokenCount: > 0 })
                Close();
            Abandon();
        }

        public void Abandon()
        {
            current?.Dispose();
            current = null;
        }
    }
}
