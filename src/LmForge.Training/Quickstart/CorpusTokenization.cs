using LmForge.Tokenization;
using LmForge.Tokenization.Corpus;
using LmForge.Tokenization.Shards;

namespace LmForge.Training.Quickstart;

/// <summary>The token counts of a corpus written as one train and one validation shard.</summary>
public sealed record ShardSplit(string TrainShard, string ValidationShard, long TrainTokens, long ValidationTokens);

/// <summary>
/// Encodes a corpus into llm.c shards, each document preceded by the end-of-text token (GPT-2's convention), and
/// splits it by blocks: every <see cref="ValidationEvery"/>th block of <see cref="BlockTokens"/> tokens goes to
/// validation, so both sets sample every part (every genre) of the corpus.
/// </summary>
public static class CorpusTokenization
{
    public const int BlockTokens = 1024;
    public const int ValidationEvery = 20;

    public static ShardSplit WriteShards(IReadOnlyList<string> corpusFiles, BpeTokenizer tokenizer, int endOfText, string directory,
        IProgress<(long BytesRead, long TotalBytes)>? progress = null)
    {
        Directory.CreateDirectory(directory);
        string trainPath = Path.Combine(directory, "train_000000.bin"), validationPath = Path.Combine(directory, "val_000000.bin");
        long totalBytes = CorpusReader.TotalBytes(corpusFiles);
        using var train = new TokenShardWriter(trainPath, tokenizer.VocabularySize);
        using var validation = new TokenShardWriter(validationPath, tokenizer.VocabularySize);
        var block = new List<int>(2 * BlockTokens);
        var pieceTokens = new List<int>();
        long blockIndex = 0;
        void Flush(bool force)
        {
            while (block.Count >= BlockTokens || (force && block.Count > 0))
            {
                int n = Math.Min(BlockTokens, block.Count);
                var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(block)[..n];
                (blockIndex++ % ValidationEvery == ValidationEvery - 1 ? validation : train).Append(span);
                block.RemoveRange(0, n);
            }
        }
        void Add(string text, bool startsDocument)
        {
            if (startsDocument) block.Add(endOfText);
            pieceTokens.Clear();
            tokenizer.EncodeOrdinary(text, pieceTokens);
            block.AddRange(pieceTokens);
            Flush(force: false);
        }
        foreach (var chunk in CorpusReader.ReadChunks(corpusFiles, bytesRead: read => progress?.Report((read, totalBytes))))
        {
            if (chunk.Format == CorpusFormat.Jsonl) CorpusDocuments.ForEachJsonlText(chunk, text => Add(text, startsDocument: true));
            else Add(CorpusDocuments.DecodeText(chunk), chunk.StartsDocument);
        }
        Flush(force: true);
        long trainTokens = train.TokenCount, validationTokens = validation.TokenCount;
        train.Complete();
        validation.Complete();
        return new ShardSplit(trainPath, validationPath, trainTokens, validationTokens);
    }
}
