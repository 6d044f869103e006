using System.CommandLine;
using System.Globalization;
using System.Text;
using LmForge.Tokenization;
using LmForge.Tokenization.Saving;
using LmForge.Tokenization.Shards;
using LmForge.Tokenization.Training;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>
/// <c>lmforge tokenizer train|encode|decode|add-encoder-tokens|serve</c> and <c>lmforge tokenize</c>: thin front ends
/// over <see cref="BpeTrainer"/>, the tokenizer, the shard writer and LmForge.Server (the tokenizer page without a model);
/// all logic lives in LmForge.Tokenization and LmForge.Server.
/// </summary>
public static class TokenizerCommands
{
    public static IEnumerable<Command> Create()
    {
        var tokenizer = new Command("tokenizer", "Train a byte-level BPE tokenizer, or encode/decode text with one.");
        tokenizer.Subcommands.Add(CreateTrain());
        tokenizer.Subcommands.Add(CreateEncode());
        tokenizer.Subcommands.Add(CreateDecode());
        tokenizer.Subcommands.Add(CreateAddEncoderTokens());
        tokenizer.Subcommands.Add(CreateServe());
        tokenizer.Subcommands.Add(CreateFetchEncodings());
        yield return tokenizer;
        yield return CreateTokenize();
    }

    static Option<string> TokenizerOption() => new("--tokenizer", "-t")
    {
        Description = "tokenizer.json (Hugging Face), a directory with encoder.json + vocab.bpe (GPT-2), gpt2/cl100k_base/o200k_base.tiktoken, or gpt2, cl100k_base, o200k_base (their rank files in $LMFORGE_TIKTOKEN_DIR, else ~/.cache/lmforge/tiktoken)",
        Required = true,
    };

    static Command CreateEncode()
    {
        var tokenizerPath = TokenizerOption();
        var text = new Argument<string?>("text") { Description = "Text to encode (or use --file)", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file", "-f") { Description = "Encode the exact text of this UTF-8 file (a byte-order mark included)" };
        var allowSpecial = new Option<bool>("--allow-special") { Description = "Encode special tokens' text (e.g. <|endoftext|>) as the special tokens; by default such text is an error, as in tiktoken" };
        var plain = new Option<bool>("--plain") { Description = "Encode special tokens' text as ordinary text, like any other text" };
        var pieces = new Option<bool>("--pieces") { Description = "Print each token with the bytes it stands for" };
        var command = new Command("encode", "Encode text to token ids.");
        command.Arguments.Add(text);
        foreach (var option in new Option[] { tokenizerPath, file, allowSpecial, plain, pieces })
            command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var tokenizer = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            // The file's exact text: decoding the bytes keeps a leading byte-order mark, which File.ReadAllText drops
            // (tiktoken encodes it, as U+FEFF).
            string input = parse.GetValue(file) is { } path ? new UTF8Encoding(false).GetString(File.ReadAllBytes(path))
                : parse.GetValue(text) ?? throw new ArgumentException("give the text to encode, or --file PATH");
            if (parse.GetValue(allowSpecial) && parse.GetValue(plain))
                throw new ArgumentException("--allow-special and --plain exclude each other: choose how special tokens' text is encoded");
            int[] ids;
            try
            {
                ids = parse.GetValue(allowSpecial) ? tokenizer.Encode(input, SpecialTokenSet.All)
                    : parse.GetValue(plain) ? tokenizer.EncodeOrdinary(input)
                    : tokenizer.Encode(input);
            }
            catch (DisallowedSpecialTokenException e)
            {
                Console.Error.WriteLine($"error: the text contains the special token {e.Token} at char offset {e.Offset}: " +
                    "pass --allow-special to encode it as that special token, or --plain to encode it as ordinary text");
                return 1;
            }
            Console.WriteLine(string.Join(' ', ids));
            if (parse.GetValue(pieces))
                foreach (int id in ids)
                    Console.WriteLine($"{id,8}  {Show(tokenizer, id)}");
            int bytes = Encoding.UTF8.GetByteCount(input);
            Console.Error.WriteLine($"{ids.Length} tokens, {bytes} bytes, {(ids.Length == 0 ? 0 : (double)bytes / ids.Length):F2} bytes/token ({tokenizer})");
            return 0;
        }));
        return command;
    }

    static Command CreateDecode()
    {
        var tokenizerPath = TokenizerOption();
        var ids = new Argument<string[]>("ids") { Description = "Token ids (separated by spaces or commas)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("decode", "Decode token ids to text.");
        command.Arguments.Add(ids);
        command.Options.Add(tokenizerPath);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var tokenizer = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            var tokens = new List<int>();
            foreach (var part in parse.GetValue(ids)!.SelectMany(a => a.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries)))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id >= tokenizer.VocabularySize)
                    throw new ArgumentException($"'{part}' is not a token id of {tokenizer} (expected 0..{tokenizer.VocabularySize - 1})");
                tokens.Add(id);
            }
            Console.WriteLine(tokenizer.DecodeText(tokens.ToArray()));
            return 0;
        }));
        return command;
    }

    static Command CreateTokenize()
    {
        var input = new Argument<string>("input") { Description = "Documents: a .txt (one document per file) or .jsonl/.ndjson ({\"text\"} per line) file, optionally .gz, or a directory of them" };
        var tokenizerPath = TokenizerOption();
        var output = new Option<string>("--output", "-o") { Description = "Directory for the shards", DefaultValueFactory = _ => "shards" };
        var shardTokens = new Option<string>("--shard-tokens") { Description = "Tokens per training shard (K/M/G suffixes)", DefaultValueFactory = _ => "100M" };
        var valTokens = new Option<string?>("--val-tokens") { Description = "Tokens of the validation shard, taken from the start (default: one shard; 0 for none)" };
        var prefix = new Option<string?>("--prefix") { Description = "Shard file name prefix (default: the input's name)" };
        var threads = new Option<int>("--threads") { Description = "Encoding threads (the output does not depend on it)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("tokenize", "Tokenize documents into llm.c token shards (<|endoftext|> before each document).");
        command.Arguments.Add(input);
        foreach (var option in new Option[] { tokenizerPath, output, shardTokens, valTokens, prefix, threads })
            command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var tokenizer = LoadTokenizer(parse.GetValue(tokenizerPath)!);
            string inputPath = parse.GetValue(input)!;
            string name = parse.GetValue(prefix) ?? DefaultPrefix(inputPath);
            TokenizeResult? result = null;
            var elapsed = System.Diagnostics.Stopwatch.StartNew();
            NewProgress().Start(context =>
                {
                    var task = context.AddTask("tokenize");
                    var options = new TokenizeOptions
                    {
                        ShardTokens = ParseCount(parse.GetValue(shardTokens)!, "--shard-tokens"),
                        ValidationTokens = parse.GetValue(valTokens) is { } v ? ParseCount(v, "--val-tokens") : null,
                        Prefix = name,
                        Threads = parse.GetValue(threads),
                        Progress = new CallbackProgress<TokenizeProgress>(p =>
                        {
                            task.MaxValue = Math.Max(1, p.TotalBytes);
                            task.Value = p.BytesRead;
                            task.Description = $"tokenize: {p.Tokens / 1e6:F1}M tokens, {p.ShardsWritten} shards";
                        }),
                        Log = line =>
                        {
                            if (line.StartsWith("warning: ", StringComparison.Ordinal)) Console.Error.WriteLine(line);
                            else AnsiConsole.WriteLine(line);
                        },
                    };
                    result = CorpusTokenizer.Run(tokenizer, inputPath, parse.GetValue(output)!, options);
                    task.Value = task.MaxValue;
                });
            double seconds = elapsed.Elapsed.TotalSeconds;
            Console.WriteLine($"{result!.Documents:N0} documents, {result.Tokens:N0} tokens in {result.Shards.Count} shards ({result.BytesRead / 1e6 / seconds:F1} MB/s, {seconds:F1} s):");
            foreach (var shard in result.Shards)
                Console.WriteLine($"  {shard}");
            return 0;
        }));
        return command;
    }

    static string DefaultPrefix(string input)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(input));
        foreach (var extension in new[] { ".gz", ".jsonl", ".ndjson", ".json", ".txt" })
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                name = name[..^extension.Length];
        return name.Length == 0 ? "corpus" : name;
    }

    /// <summary>"100M" → 100,000,000 (K, M, G are powers of 1000, as in llm.c's shard sizes).</summary>
    static long ParseCount(string text, string option)
    {
        string digits = text.TrimEnd('K', 'k', 'M', 'm', 'G', 'g');
        long multiplier = text[digits.Length..].ToUpperInvariant() switch { "" => 1, "K" => 1_000, "M" => 1_000_000, "G" => 1_000_000_000, _ => 0 };
        if (multiplier == 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long count))
            throw new ArgumentException($"{option} '{text}': expected a count such as 100M, 500K or 1000000");
        return count * multiplier;
    }

    /// <summary>Picks the loader by what the path is; the loaders themselves live in LmForge.Tokenization.</summary>
    static BpeTokenizer LoadTokenizer(string path)
    {
        if (KnownEncodings.IsKnown(path) && !File.Exists(path) && !Directory.Exists(path))
            return KnownEncodings.Load(path);
        if (Directory.Exists(path))
            return Gpt2VocabularyFiles.Load(Path.Combine(path, "encoder.json"), Path.Combine(path, "vocab.bpe"));
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such tokenizer file or directory", path);
        return Path.GetFileName(path).ToLowerInvariant() switch
        {
            "gpt2.tiktoken" or "r50k_base.tiktoken" => BpeTokenizer.Gpt2(path),
            "cl100k_base.tiktoken" => BpeTokenizer.Cl100k(path),
            "o200k_base.tiktoken" => BpeTokenizer.O200k(path),
            var other when other.EndsWith(".tiktoken", StringComparison.Ordinal) =>
                throw new ArgumentException($"{path}: a tiktoken rank file does not say its split pattern and special tokens; name it gpt2/cl100k_base/o200k_base.tiktoken or use a tokenizer.json"),
            _ => HuggingFaceTokenizerFile.Load(path),
        };
    }

    static Command CreateFetchEncodings()
    {
        var directory = new Option<string?>("--dir") { Description = $"Where to write the rank files (default: {KnownEncodings.DefaultDirectory()}, or $LMFORGE_TIKTOKEN_DIR)" };
        var command = new Command("fetch-encodings", "Fetch OpenAI's gpt2, cl100k_base and o200k_base rank files (from the npm package tiktoken, with npm), so -t gpt2|cl100k_base|o200k_base works.")
        {
            directory,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            foreach (string path in LmForge.Data.Corpora.TiktokenEncodings.Fetch(parse.GetValue(directory), message => Console.Error.WriteLine(message)))
                Console.WriteLine(path);
            return 0;
        }));
        return command;
    }

    static Command CreateServe()
    {
        var tokenizerPath = TokenizerOption();
        var host = new Option<string>("--host") { Description = "Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (every network) or localhost", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var command = new Command("serve", "Serve the tokenizer page (/tokenizer) and /v1/tokenize, /v1/detokenize for a tokenizer, without a model; gpt2, cl100k_base and o200k_base are offered beside it where their rank files are found.")
        {
            tokenizerPath, host, port,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(port) is < 0 or > 65535) throw new ArgumentException($"--port {parse.GetValue(port)} is not a port number (0 to 65535)");
            string source = parse.GetValue(tokenizerPath)!;
            var tokenizers = new LmForge.Server.ServedTokenizers(LoadTokenizer(source), Path.GetFileName(Path.TrimEndingDirectorySeparator(source)));
            var options = new LmForge.Server.ServerOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port) };
            return ServeCommand.ServeUntilStopped(() => LmForge.Server.ChatServer.StartAsync(tokenizers, options, Console.Out), server =>
            {
                Console.WriteLine($"Serving the tokenizer {source} ({string.Join(", ", server.Tokenizers.Ids)})");
                Console.WriteLine($"  tokenizer page: {new Uri(server.Address, "tokenizer")}");
                Console.WriteLine($"  API: POST {new Uri(server.Address, "v1/tokenize")}, POST {new Uri(server.Address, "v1/detokenize")}");
            }).GetAwaiter().GetResult();
        }));
        return command;
    }

    // tiktoken's examples show each token's bytes; a token that is not whole UTF-8 is shown with \x escapes.
    static string Show(BpeTokenizer tokenizer, int id)
    {
        var bytes = tokenizer.GetTokenBytes(id);
        var text = new StringBuilder("'");
        if (System.Text.Unicode.Utf8.IsValid(bytes))
        {
            foreach (char c in Encoding.UTF8.GetString(bytes))
                text.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\'' => "\\'", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() });
        }
        else
        {
            foreach (byte b in bytes)
                text.Append(b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return text.Append('\'').ToString();
    }

    static Command CreateAddEncoderTokens()
    {
        var input = new Option<string>("--tokenizer", "-t") { Description = "The tokenizer.json to add them to", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The new tokenizer.json (must not exist)", Required = true };
        var sentinels = new Option<int>("--sentinels") { Description = "How many sentinels <extra_id_N> to have", DefaultValueFactory = _ => SentinelTokens.DefaultCount };
        var command = new Command("add-encoder-tokens", "Give a trained tokenizer.json BERT's [PAD], [CLS], [SEP], [MASK] and T5's sentinels <extra_id_0> ... <extra_id_99> (existing ids unchanged), for the masked and span objectives.")
        {
            input, output, sentinels,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(sentinels) < 1) throw new ArgumentException($"--sentinels {parse.GetValue(sentinels)}: expected at least 1");
            var added = EncoderTokens.AddTo(parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(sentinels));
            var ids = added.Values.Order().ToList();
            Console.WriteLine($"wrote {parse.GetValue(output)}: {parse.GetValue(input)} with {added.Count} more special tokens ({Abbreviated(added.Keys)}) at ids {ids[0]}..{ids[^1]}");
            return 0;
        }));
        return command;
    }

    static Command CreateTrain()
    {
        var input = new Argument<string>("input") { Description = "Corpus: a .txt/.jsonl/.ndjson file (optionally .gz) or a directory of them" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the Hugging Face tokenizer.json", DefaultValueFactory = _ => "tokenizer.json" };
        var vocab = new Option<int>("--vocab-size") { Description = "Total vocabulary: 256 bytes + merges + special tokens", DefaultValueFactory = _ => 32768 };
        var chat = new Option<bool>("--chat") { Description = "Add the chat markers <|im_start|>, <|im_sep|>, <|im_end|> after <|endoftext|>" };
        var encoder = new Option<bool>("--encoder") { Description = "Add BERT's [PAD], [CLS], [SEP], [MASK] (for the masked-LM objective) and T5's 100 sentinels <extra_id_0> ... <extra_id_99> (for span corruption) after the chat markers" };
        var specials = new Option<string[]>("--special") { Description = "Extra special tokens (after <|endoftext|>, the chat markers and the encoder tokens)", AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { Description = "Pre-tokenizing threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var pattern = new Option<string>("--pattern") { Description = "Split pattern: cl100k (GPT-4), gpt2, o200k (GPT-4o), or a regex", DefaultValueFactory = _ => "cl100k" };
        var command = new Command("train", "Train a byte-level BPE vocabulary on a corpus and save it as tokenizer.json.");
        command.Arguments.Add(input);
        foreach (var option in new Option[] { output, vocab, chat, encoder, specials, threads, pattern })
            command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var specialTokens = new List<string> { BpeTrainerOptions.EndOfText };
            if (parse.GetValue(chat))
                specialTokens.AddRange(BpeTrainerOptions.ChatSpecialTokens);
            if (parse.GetValue(encoder))
            {
                specialTokens.AddRange(EncoderTokens.All);
                specialTokens.AddRange(SentinelTokens.Names());
            }
            specialTokens.AddRange(parse.GetValue(specials) ?? []);
            string outputPath = parse.GetValue(output)!;
            TrainedBpe? bpe = null;
            var elapsed = System.Diagnostics.Stopwatch.StartNew();
            NewProgress().Start(context =>
                {
                    var counting = context.AddTask("pre-tokenize");
                    var merging = context.AddTask("merges", autoStart: false);
                    var progress = new CallbackProgress<BpeTrainingProgress>(p =>
                    {
                        if (p.Phase == BpeTrainingPhase.CountingWords)
                        {
                            counting.MaxValue = Math.Max(1, p.TotalBytes);
                            counting.Value = p.BytesRead;
                            return;
                        }
                        counting.Value = counting.MaxValue;
                        counting.StopTask();
                        if (!merging.IsStarted)
                            merging.StartTask();
                        merging.MaxValue = Math.Max(1, p.MergesTarget);
                        merging.Value = p.MergesDone;
                        if (p.Phase == BpeTrainingPhase.Done)
                            merging.StopTask();
                    });
                    var options = new BpeTrainerOptions
                    {
                        VocabSize = parse.GetValue(vocab),
                        Pattern = parse.GetValue(pattern) switch
                        {
                            "cl100k" or "cl100k_base" => SplitPattern.Cl100k,
                            "gpt2" => SplitPattern.Gpt2,
                            "o200k" or "o200k_base" => SplitPattern.O200k,
                            var regex => SplitPattern.FromRegex(regex!),
                        },
                        SpecialTokens = specialTokens,
                        Threads = parse.GetValue(threads),
                        Progress = progress,
                    };
                    bpe = new BpeTrainer(options).Train(parse.GetValue(input)!);
                });
            HuggingFaceTokenizerWriter.Write(bpe!, outputPath);
            Console.WriteLine($"wrote {outputPath}: {bpe!.VocabSize:N0} tokens ({bpe.Merges.Count:N0} merges, specials {Abbreviated(bpe.SpecialTokens.Keys)}) in {elapsed.Elapsed.TotalSeconds:F1} s");
            if (bpe.RanOutOfPairs)
                Console.Error.WriteLine("warning: the corpus ran out of pairs to merge before the requested vocabulary size");
            return 0;
        }));
        return command;
    }

    // The first few of many (a tokenizer trained with --encoder has 105 special tokens).
    static string Abbreviated(IEnumerable<string> tokens)
    {
        var all = tokens.ToList();
        return all.Count <= 8 ? string.Join(" ", all) : $"{string.Join(" ", all.Take(6))} ... {all[^1]} ({all.Count} in all)";
    }

    // A live bar on a terminal; when output is redirected (logs, CI) the bar is drawn nowhere and only the
    // summary lines are printed.
    static Progress NewProgress()
    {
        var console = AnsiConsole.Profile.Capabilities.Interactive
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        return new Progress(console)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new TransferSpeedColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn());
    }

    sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
