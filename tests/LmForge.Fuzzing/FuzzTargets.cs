using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LmForge.Data.Pipeline;
using LmForge.Data.Readers;
using LmForge.Data.Recipes;
using LmForge.Data.Writers;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Optimization;
using LmForge.Tensors.SafeTensors;
using LmForge.Tokenization;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using LmForge.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.PostTraining;

namespace LmForge.Fuzzing;

/// <summary>
/// One target per reader, each with a small valid input built here and the entry point a command calls on it
/// (what <c>lmforge</c> reads: a tokenizer is also asked to encode and decode, a checkpoint is loaded as a resume loads it,
/// a WARC or JSONL file is read to its end).
/// </summary>
public static class FuzzTargets
{
    static readonly Lazy<IReadOnlyList<FuzzTarget>> Targets = new(Build);

    public static IReadOnlyList<FuzzTarget> All => Targets.Value;

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no fuzz target '{name}'; targets: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));

    const string SampleText = "Hello there, how are you today? I am fine, thank you. Ünïcödé ✓ 123";

    static IReadOnlyList<FuzzTarget> Build()
    {
        var trained = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = 300, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens],
        }).TrainOnTexts([string.Concat(Enumerable.Repeat(SampleText + " ", 40))]);
        byte[] tokenizerJson = WithTempFile(path => HuggingFaceTokenizerWriter.Write(trained, path));
        var chatTokenizer = trained.ToTokenizer();
        return
        [
            SafeTensors(),
            TokenShard(),
            LlmcModel(),
            Checkpoint(),
            TokenizerJson(tokenizerJson),
            TiktokenRanks(trained),
            Gpt2Vocabulary(tokenizerJson),
            Warc(gzip: false),
            Warc(gzip: true),
            Jsonl(gzip: false),
            Jsonl(gzip: true),
            ChatJsonl(chatTokenizer),
            Recipe(),
        ];
    }

    static FuzzTarget SafeTensors()
    {
        byte[] file = WithTempFile(path => SafeTensorsFile.Write(path,
        [
            new SafeTensorEntry("embed.weight", [4, 3], Floats(12)),
            new SafeTensorEntry("norm.bias", [3], Floats(3)),
            new SafeTensorEntry("scalar", [], Floats(1)),
            new SafeTensorEntry("blocks.0.w", [2, 2, 2], Floats(8)),
        ], new Dictionary<string, string> { ["format"] = "pt" }));
        return new FuzzTarget("safetensors", "SafeTensorsFile.Open + ReadFloat32 of every tensor", [new("model.safetensors", file, FuzzFileKind.SafeTensors)],
            directory =>
            {
                using var tensors = SafeTensorsFile.Open(Path.Combine(directory, "model.safetensors"));
                foreach (var (name, info) in tensors.Tensors) tensors.ReadFloat32(name, info.Shape.ToArray());
            }) { Words = ["embed.weight", "norm.bias", "scalar", "dtype", "shape", "data_offsets"] };
    }

    static FuzzTarget TokenShard()
    {
        int[] tokens = [.. Enumerable.Range(0, 300).Select(i => i * 7 % 300)];
        byte[] file = WithTempFile(path => TokenShardWriter.Write(path, tokens, 300));
        return new FuzzTarget("llmc-shard", "TokenShardReader.ReadAll", [new("corpus_train_000000.bin", file, FuzzFileKind.Binary)],
            directory => TokenShardReader.ReadAll(Path.Combine(directory, "corpus_train_000000.bin")));
    }

    static TransformerConfig TinyGpt2 => TransformerConfig.Gpt2(vocabSize: 64, contextLength: 8, layerCount: 1, headCount: 2, width: 8);

    static FuzzTarget LlmcModel()
    {
        byte[] file = WithTempFile(path =>
        {
            using var model = new TransformerModel(TinyGpt2);
            model.InitializeWeights(seed: 1);
            LlmcModelFile.Save(model, path);
        });
        return new FuzzTarget("llmc-model", "LlmcModelFile.Load", [new("gpt2_tiny.bin", file, FuzzFileKind.Binary)],
            directory => LlmcModelFile.Load(Path.Combine(directory, "gpt2_tiny.bin"), trainable: false).Dispose());
    }

    static FuzzTarget Checkpoint()
    {
        var files = WithTempDirectory(directory =>
        {
            var config = new TrainingConfig
            {
                Layers = 1, Heads = 2, EmbeddingSize = 8, ContextLength = 8, VocabularySize = 64, MicroBatchSize = 1, TotalBatchTokens = 8,
            };
            using var model = new TransformerModel(TinyGpt2);
            model.InitializeWeights(seed: 1);
            ModelCheckpoint.Save(model, directory);
            using var optimizer = model.CreateOptimizer(new AdamWSettings(config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay));
            new TrainerState(3, 24, new LmForge.Training.Data.DataPosition(0, 0, 3), config.Seed, 1.5).Save(directory, optimizer, config);
        });
        var kinds = new Dictionary<string, FuzzFileKind>
        {
            ["config.json"] = FuzzFileKind.Json, ["model.safetensors"] = FuzzFileKind.SafeTensors, [TrainerState.ConfigFile] = FuzzFileKind.Json,
            [TrainerState.StateFile] = FuzzFileKind.Json, [TrainerState.OptimizerFile] = FuzzFileKind.SafeTensors,
        };
        return new FuzzTarget("checkpoint", "TrainerState.LoadConfig + ModelCheckpoint.Load + TrainerState.Load (a resume's reads)",
            [.. files.Where(f => kinds.ContainsKey(f.Key)).Select(f => new FuzzFile(f.Key, f.Value, kinds[f.Key]))],
            directory =>
            {
                var config = TrainerState.LoadConfig(directory);
                using var model = ModelCheckpoint.Load(directory);
                using var optimizer = model.CreateOptimizer(new AdamWSettings(config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay));
                TrainerState.Load(directory, optimizer);
            })
        {
            Words = ["transformer.h.0.attn.c_attn.weight", "wte.weight", "adamw.first_moment", "adamw.second_moment", "n_embd", "n_layer", "n_head",
                "vocab_size", "step", "dataPosition", "gpt2", "llama"],
        };
    }

    // What a command does with a loaded tokenizer: encode (specials allowed) and decode back.
    static void Use(BpeTokenizer tokenizer)
    {
        int[] ids = tokenizer.Encode(SampleText + " <|endoftext|>", SpecialTokenSet.All);
        tokenizer.DecodeText(ids);
        tokenizer.EncodeOrdinary(SampleText);
    }

    static FuzzTarget TokenizerJson(byte[] tokenizerJson) =>
        new("tokenizer-json", "HuggingFaceTokenizerFile.Load, then encode and decode", [new("tokenizer.json", tokenizerJson, FuzzFileKind.Json)],
            directory => Use(HuggingFaceTokenizerFile.Load(Path.Combine(directory, "tokenizer.json"))))
        {
            Words = ["model", "vocab", "merges", "added_tokens", "pre_tokenizer", "Ġ", "th", "e", "<|endoftext|>", "ByteLevel", "Split", "Regex"],
        };

    static FuzzTarget TiktokenRanks(TrainedBpe trained)
    {
        byte[] file = WithTempFile(path => TiktokenRankFile.Write(path, trained.TokenBytes.Select((bytes, rank) => KeyValuePair.Create(bytes, rank))));
        return new FuzzTarget("tiktoken", "BpeTokenizer.FromTiktokenFile, then encode and decode", [new("tiny.tiktoken", file, FuzzFileKind.Text)],
            directory => Use(BpeTokenizer.FromTiktokenFile(Path.Combine(directory, "tiny.tiktoken"), SplitPattern.Cl100k)));
    }

    // GPT-2's encoder.json and vocab.bpe holding the trained tokenizer's byte-level vocabulary and merges.
    static FuzzTarget Gpt2Vocabulary(byte[] tokenizerJson)
    {
        var model = JsonNode.Parse(tokenizerJson)!["model"]!;
        var encoder = new JsonObject();
        foreach (var (key, id) in model["vocab"]!.AsObject())
            if (!key.StartsWith("<|im_", StringComparison.Ordinal)) encoder[key] = id!.DeepClone();
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var merge in model["merges"]!.AsArray())
            merges.Append(merge is JsonArray pair ? $"{pair[0]} {pair[1]}" : merge!.GetValue<string>()).Append('\n');
        return new FuzzTarget("gpt2-vocab", "Gpt2VocabularyFiles.Load, then encode and decode",
            [new("encoder.json", Encoding.UTF8.GetBytes(encoder.ToJsonString()), FuzzFileKind.Json), new("vocab.bpe", Encoding.UTF8.GetBytes(merges.ToString()), FuzzFileKind.Text)],
            directory => Use(Gpt2VocabularyFiles.Load(Path.Combine(directory, "encoder.json"), Path.Combine(directory, "vocab.bpe"))))
        { Words = ["<|endoftext|>", "Ġ", "th", "e", "Ġt"] };
    }

    // Reads every document a reader step yields from the directory, as one task of a recipe stage.
    static void ReadAll(IPipelineStep step)
    {
        var context = new TaskContext(0, 1, new PipelineStats()) { Log = _ => { } };
        foreach (var document in step.Run([], context)) _ = document.Text.Length;
    }

    static FuzzTarget Warc(bool gzip)
    {
        var date = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);
        var ids = new Random(7);
        using var output = new MemoryStream();
        using (var writer = new WarcWriter(output, gzip, () => new Guid([.. Enumerable.Range(0, 16).Select(_ => (byte)ids.Next(256))])))
        {
            writer.WriteWarcinfo(date, "software: LmForge fuzz\r\n");
            writer.WriteResponse("https://example.org/a", date, Encoding.UTF8.GetBytes("<html><body><p>First page, with text.</p></body></html>"));
            writer.WriteRecord("request", "https://example.org/a", date, "application/http; msgtype=request", "GET /a HTTP/1.1\r\n\r\n"u8.ToArray());
            writer.WriteResponse("https://example.org/b", date, Encoding.Latin1.GetBytes("<html><body>caf\u00e9 cr\u00e8me</body></html>"), "text/html; charset=iso-8859-1");
            writer.WriteResponse("https://example.org/gone", date, "<html>gone</html>"u8.ToArray(), status: 404);
            writer.WriteConversion("https://example.org/c", date, "Already extracted text.");
        }
        string name = gzip ? "crawl.warc.gz" : "crawl.warc";
        return new FuzzTarget(gzip ? "warc-gz" : "warc", "WarcReader (a recipe's warc_reader) to the end of the file",
            [new(name, output.ToArray(), gzip ? FuzzFileKind.GzipText : FuzzFileKind.Text)],
            directory => ReadAll(new WarcReader(Path.Combine(directory, name))));
    }

    static FuzzTarget Jsonl(bool gzip)
    {
        var lines = new StringBuilder();
        for (int i = 0; i < 5; i++)
            lines.Append($"{{\"id\": \"doc-{i}\", \"text\": \"Document {i} says caf\\u00e9 and \\ud83d\\ude00.\", \"url\": \"https://example.org/{i}\", \"metadata\": {{\"dump\": \"CC-2024\", \"score\": {i}.5}}}}\n");
        byte[] bytes = Encoding.UTF8.GetBytes(lines.ToString());
        string name = gzip ? "docs.jsonl.gz" : "docs.jsonl";
        return new FuzzTarget(gzip ? "jsonl-gz" : "jsonl", "JsonlReader (a recipe's jsonl_reader) to the end of the file",
            [new(name, gzip ? FuzzMutator.Gzip(bytes) : bytes, gzip ? FuzzFileKind.GzipText : FuzzFileKind.JsonLines)],
            directory => ReadAll(new JsonlReader(Path.Combine(directory, name))));
    }

    static FuzzTarget ChatJsonl(BpeTokenizer tokenizer)
    {
        string[] conversations =
        [
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "I am fine, thank you."}]}""",
            """{"messages": [{"role": "user", "content": "How are you today?"}, {"role": "assistant", "content": "Fine."}, {"role": "user", "content": "And?"}, {"role": "assistant", "content": "Thank you."}]}""",
            """{"messages": [{"role": "user", "content": "Ünïcödé ✓"}, {"role": "assistant", "content": "123"}]}""",
        ];
        return new FuzzTarget("chat-jsonl", "ChatExamples.Load (what sft reads)",
            [new("chats.jsonl", Encoding.UTF8.GetBytes(string.Join('\n', conversations) + "\n"), FuzzFileKind.JsonLines)],
            directory => ChatExamples.Load(Path.Combine(directory, "chats.jsonl"), tokenizer, contextLength: 64))
        { Words = ["messages", "role", "content", "user", "assistant", "system", "tool"] };
    }

    static FuzzTarget Recipe()
    {
        const string recipe = """
            {
              "name": "fuzz",
              "work_dir": "work",
              "stages": [
                {"name": "clean", "tasks": 2, "removed_dir": "removed", "steps": [
                  {"type": "jsonl_reader", "path": "docs", "glob": "*.jsonl", "max_document_bytes": 1048576},
                  {"type": "url_filter", "banned_words": ["casino"], "soft_banned_words": ["hot"], "soft_word_threshold": 2},
                  {"type": "language_filter", "languages": ["en"], "threshold": 0.65},
                  {"type": "gopher_quality"},
                  {"type": "jsonl_writer", "path": "filtered"}
                ]},
                {"name": "minhash_signatures", "tasks": 2, "steps": [{"type": "jsonl_reader", "path": "filtered"}, {"type": "minhash_signature", "folder": "minhash"}]},
                {"name": "minhash_buckets", "tasks": 14, "steps": [{"type": "minhash_buckets", "folder": "minhash"}]}
              ]
            }
            """;
        return new FuzzTarget("recipe", "Recipe.Load (what data validate and data run read)",
            [new("recipe.json", Encoding.UTF8.GetBytes(recipe), FuzzFileKind.Json), new("docs/a.jsonl", "{\"text\": \"x\"}\n"u8.ToArray(), FuzzFileKind.JsonLines, Mutable: false)],
            directory => LmForge.Data.Recipes.Recipe.Load(Path.Combine(directory, "recipe.json")))
        {
            Words = ["jsonl_reader", "warc_reader", "jsonl_writer", "url_filter", "minhash_signature", "minhash_buckets", "minhash_cluster", "minhash_filter",
                "stages", "steps", "tasks", "type", "path", "folder", "languages", "threshold", "en"],
        };
    }

    static ReadOnlyMemory<float> Floats(int count) => Enumerable.Range(0, count).Select(i => (i - count / 2f) / 4f).ToArray();

    static byte[] WithTempFile(Action<string> write)
    {
        var files = WithTempDirectory(directory => write(Path.Combine(directory, "file")));
        return files["file"];
    }

    static Dictionary<string, byte[]> WithTempDirectory(Action<string> write)
    {
        string directory = Path.Combine(Path.GetTempPath(), "lmforge-fuzz", $"seed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            write(directory);
            return Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
