using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using LmForge.Tokenization;
using LmForge.Tokenization.Corpus;
using LmForge.Tokenization.Shards;

namespace LmForge.Bench.Tokenization;

// tokenize: the document → shard pipeline (read, parse JSONL, encode in parallel, write llm.c shards) on 1 thread
// and on every core, checking the shards are byte-identical; plain single-thread encoding of the same documents;
// and, when the Node peers are installed, tiktoken (one thread) and Hugging Face tokenizers (encodeBatch, all
// cores) encoding the same documents with the same vocabulary.
// Usage: tokenize --corpus DOCS.jsonl --tokenizer tokenizer.json [--threads N] [--no-peer]
public static class TokenizeBench
{
    public static int Run(string[] args)
    {
        string? corpus = TokenizerTrainBench.Arg(args, "--corpus");
        string? tokenizerPath = TokenizerTrainBench.Arg(args, "--tokenizer");
        if (corpus is null || tokenizerPath is null)
        {
            Console.Error.WriteLine("usage: tokenize --corpus DOCS.jsonl --tokenizer tokenizer.json [--threads N] [--no-peer]");
            return 2;
        }
        int threads = int.Parse(TokenizerTrainBench.Arg(args, "--threads") ?? Environment.ProcessorCount.ToString());
        var tokenizer = HuggingFaceTokenizerFile.Load(tokenizerPath);
        var files = CorpusReader.ListFiles(corpus);
        double fileMb = CorpusReader.TotalBytes(files) / 1e6;
        var documents = new List<string>();
        foreach (var chunk in CorpusReader.ReadChunks(files))
            if (chunk.Format == CorpusFormat.Jsonl)
                CorpusDocuments.ForEachJsonlText(chunk, documents.Add);
            else
                documents.Add(CorpusDocuments.DecodeText(chunk));
        double textMb = documents.Sum(d => (long)Encoding.UTF8.GetByteCount(d)) / 1e6;
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load average before: {TokenizerTrainBench.LoadAverage()}");
        Console.WriteLine($"corpus {corpus}: {fileMb:F1} MB on disk, {documents.Count:N0} documents, {textMb:F1} MB of text; tokenizer {tokenizer}");

        // Warm up the JIT on a slice so the first timed run is not penalised.
        foreach (var d in documents.Take(20))
            tokenizer.EncodeOrdinary(d);

        string output = Path.Combine(Path.GetTempPath(), $"lmforge-tokenize-bench-{Environment.ProcessId}");
        try
        {
            var (oneSeconds, oneHash, tokens) = Pipeline(tokenizer, corpus, Path.Combine(output, "t1"), 1);
            var (manySeconds, manyHash, _) = Pipeline(tokenizer, corpus, Path.Combine(output, "tn"), threads);
            Console.WriteLine($"tokenize pipeline, 1 thread: {oneSeconds:F2} s, {fileMb / oneSeconds:F1} MB/s of JSONL ({tokens:N0} tokens)");
            Console.WriteLine($"tokenize pipeline, {threads} threads: {manySeconds:F2} s, {fileMb / manySeconds:F1} MB/s of JSONL; speed-up {oneSeconds / manySeconds:F2}x; " +
                $"shards {(oneHash == manyHash ? "byte-identical" : "DIFFER")}");

            var clock = Stopwatch.StartNew();
            var scratch = new List<int>(1 << 20);
            foreach (var d in documents)
            {
                scratch.Clear();
                tokenizer.EncodeOrdinary(d, scratch);
            }
            double encodeSeconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"LmForge EncodeOrdinary, 1 thread, in memory: {encodeSeconds:F2} s, {textMb / encodeSeconds:F1} MB/s of text");

            string? peers = args.Contains("--no-peer") ? null : NodePeers.Directory();
            if (peers is null)
            {
                Console.WriteLine("peers skipped (npm install --prefix bench/LmForge.Bench/Tokenization/peers)");
                return oneHash == manyHash ? 0 : 1;
            }
            string ranks = Path.Combine(output, "ranks.tiktoken");
            TiktokenRankFile.Write(ranks, Enumerable.Range(0, tokenizer.OrdinaryTokenCount)
                .Select(id => KeyValuePair.Create(tokenizer.GetTokenBytes(id).ToArray(), id)));
            string docs = corpus;
            if (files.Count != 1 || CorpusReader.FormatOf(files[0]) != CorpusFormat.Jsonl || CorpusReader.IsGzip(files[0]))
            {
                docs = Path.Combine(output, "docs.jsonl");
                File.WriteAllLines(docs, documents.Select(d => System.Text.Json.JsonSerializer.Serialize(new { text = d })));
            }
            string? peerOutput = NodePeers.Run(peers, "encode_peers.js", docs, ranks, tokenizerPath, tokenizer.Pattern.Regex);
            if (peerOutput is null)
                return 1;
            double tiktoken = NodePeers.Field(peerOutput, "tiktoken", "seconds");
            double hf = NodePeers.Field(peerOutput, "hf", "seconds");
            Console.WriteLine($"tiktoken encode_ordinary, 1 thread: {tiktoken:F2} s, {textMb / tiktoken:F1} MB/s of text " +
                $"({NodePeers.Field(peerOutput, "tiktoken", "tokens"):N0} tokens)");
            Console.WriteLine($"Hugging Face tokenizers encodeBatch, all cores: {hf:F2} s, {textMb / hf:F1} MB/s of text " +
                $"({NodePeers.Field(peerOutput, "hf", "tokens"):N0} tokens)");
            Console.WriteLine($"ratios (above 1 = LmForge faster): EncodeOrdinary/tiktoken {tiktoken / encodeSeconds:F2}; " +
                $"{threads}-thread pipeline (with JSONL parsing and shard writing)/HF encodeBatch {hf / manySeconds:F2}; load average after: {TokenizerTrainBench.LoadAverage()}");
            return oneHash == manyHash ? 0 : 1;
        }
        finally
        {
            if (Directory.Exists(output))
                Directory.Delete(output, recursive: true);
        }
    }

    static (double Seconds, string Hash, long Tokens) Pipeline(BpeTokenizer tokenizer, string corpus, string output, int threads)
    {
        var clock = Stopwatch.StartNew();
        var result = CorpusTokenizer.Run(tokenizer, corpus, output, new TokenizeOptions { Threads = threads, ShardTokens = 10_000_000 });
        double seconds = clock.Elapsed.TotalSeconds;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var shard in result.Shards)
            sha.AppendData(File.ReadAllBytes(shard));
        return (seconds, Convert.ToHexString(sha.GetHashAndReset()), result.Tokens);
    }
}
