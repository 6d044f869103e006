using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Data;

/// <summary>
/// The training and validation batches a config names: token shards for pretraining (next tokens, masked tokens, or
/// corrupted spans), or a conversations file for supervised fine-tuning (packed rows, loss on the assistant's replies
/// only, validated on held-out conversations: another file, or a seeded fraction of the same one). A data-parallel
/// rank opens them with its <see cref="BatchShare"/>.
/// </summary>
public static class TrainingData
{
    public static (IBatchSource Train, IBatchSource Validation) Open(TrainingConfig config, Action<string>? log = null, BatchShare? share = null)
    {
        if (config.Objective == TrainingObjectives.Masked) return OpenMasked(config, share);
        if (config.Objective == TrainingObjectives.Span) return OpenSpan(config, share);
        if (config.TrainChats.Length == 0)
        {
            var train = new TokenBatchLoader(TokenShardSet.Resolve(config.TrainShards, "train"), config.MicroBatchSize, config.ContextLength,
                config.VocabularySize, (ulong)config.Seed, config.ShuffleTrainingData, share);
            try
            {
                return (train, new TokenBatchLoader(TokenShardSet.Resolve(config.ValidationShards, "val"), config.MicroBatchSize, config.ContextLength,
                    config.VocabularySize, 0, shuffle: false, share));
            }
            catch
            {
                train.Dispose();
                throw;
            }
        }

        if (config.Tokenizer.Length == 0) throw new TrainingConfigException("config: trainChats needs tokenizer (the tokenizer.json the conversations are rendered with)");
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        if (tokenizer.VocabularySize > config.VocabularySize)
            throw new TrainingConfigException($"{config.Tokenizer}: the tokenizer has {tokenizer.VocabularySize} ids but the model only {config.VocabularySize}");
        int padding = ChatExamples.Template(tokenizer).EndOfMessageToken;
        var (examples, counts) = ChatExamples.Load(config.TrainChats, tokenizer, config.ContextLength);
        List<ChatExample> trainExamples, validationExamples;
        if (config.ValidationChats.Length > 0)
        {
            trainExamples = examples;
            var (held, heldCounts) = ChatExamples.Load(config.ValidationChats, tokenizer, config.ContextLength);
            validationExamples = held;
            log?.Invoke($"validation: {config.ValidationChats}: {heldCounts}");
        }
        else
        {
            // a conversation is held out by its line number alone, so the split never depends on the others
            bool HeldOut(ChatExample e) => CounterRandom.Derive(0x5EED, (ulong)e.Line).NextSingle() < config.ValidationFraction;
            trainExamples = [.. examples.Where(e => !HeldOut(e))];
            validationExamples = [.. examples.Where(HeldOut)];
            if (trainExamples.Count == 0 || validationExamples.Count == 0)
                throw new InvalidDataException($"{config.TrainChats}: {examples.Count} conversations are too few to hold out {config.ValidationFraction:P0} for validation; add conversations or pass a validation file");
        }
        log?.Invoke($"{config.TrainChats}: {counts}; {trainExamples.Count:N0} for training, {validationExamples.Count:N0} for validation");
        string name = Path.GetFileName(config.TrainChats);
        var trainRows = PackedChatRows.Pack(trainExamples, config.ContextLength, padding, (ulong)config.Seed);
        var validationRows = PackedChatRows.Pack(validationExamples, config.ContextLength, padding, 0);
        return (new ChatBatchLoader(trainRows, name, config.MicroBatchSize, (ulong)config.Seed, config.ShuffleTrainingData, share: share),
            new ChatBatchLoader(validationRows, $"{name} (validation)", config.MicroBatchSize, 0, shuffle: false, wholePasses: true, share: share));
    }

    // Masked LM over the shards: the tokenizer says which ids are [MASK] and never to be chosen.
    private static (IBatchSource, IBatchSource) OpenMasked(TrainingConfig config, BatchShare? share)
    {
        if (config.Tokenizer.Length == 0) throw new TrainingConfigException("config: objective masked needs tokenizer (the tokenizer.json the shards were made with)");
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        if (!tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Mask, out int mask))
            throw new InvalidDataException($"{config.Tokenizer}: the tokenizer has no {EncoderTokens.Mask} token for masked-LM training; train it with lmforge tokenizer train --encoder");
        var masking = new Objectives.MaskedLanguageModeling(config.VocabularySize, mask, tokenizer.SpecialTokens.Values, config.MaskingRate);
        var train = new TokenBatchLoader(TokenShardSet.Resolve(config.TrainShards, "train"), config.MicroBatchSize, config.ContextLength,
            config.VocabularySize, (ulong)config.Seed, config.ShuffleTrainingData, share);
        try
        {
            var validation = new TokenBatchLoader(TokenShardSet.Resolve(config.ValidationShards, "val"), config.MicroBatchSize, config.ContextLength,
                config.VocabularySize, 0, shuffle: false, share);
            // validation masks the same way every time it runs (it always starts at the first position)
            return (new MaskedBatchLoader(train, masking, (ulong)config.Seed), new MaskedBatchLoader(validation, masking, 0x7A11D));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    // T5's span corruption over the shards: the tokenizer says the sentinels, the end token and [PAD].
    private static (IBatchSource, IBatchSource) OpenSpan(TrainingConfig config, BatchShare? share)
    {
        var (corruption, padToken) = SpanObjective(config);
        int raw = SpanBatchLoader.RawLength(corruption, config.ContextLength);
        if (raw < 2)
            throw new TrainingConfigException($"config: contextLength = {config.ContextLength} is too short for objective span: even a window of 2 tokens corrupts into {corruption.InputLength(2)} input tokens (kept, sentinel, end); use contextLength {corruption.InputLength(2)} or more");
        int sentinels = SpanBatchLoader.SentinelsNeeded(corruption, raw);
        if (sentinels > corruption.SentinelIds.Count)
            throw new TrainingConfigException(
                $"config: contextLength = {config.ContextLength} makes span-corruption windows of {raw} tokens with {sentinels - 1} noise spans, which take {sentinels} sentinels, but {config.Tokenizer} has {corruption.SentinelIds.Count}; use a shorter contextLength, a larger meanSpanLength or a lower noiseDensity, or more sentinels (lmforge tokenizer add-encoder-tokens --sentinels {sentinels})");
        int targets = corruption.TargetLength(raw);
        if (targets > config.ContextLength)
            throw new TrainingConfigException(
                $"config: noiseDensity = {config.NoiseDensity} makes span-corruption targets of {targets} tokens, longer than contextLength = {config.ContextLength} (the decoder's limit too); lower noiseDensity below 0.5");
        var train = new TokenBatchLoader(TokenShardSet.Resolve(config.TrainShards, "train"), config.MicroBatchSize, raw,
            config.VocabularySize, (ulong)config.Seed, config.ShuffleTrainingData, share);
        try
        {
            var validation = new TokenBatchLoader(TokenShardSet.Resolve(config.ValidationShards, "val"), config.MicroBatchSize, raw,
                config.VocabularySize, 0, shuffle: false, share);
            // validation corrupts the same way every time it runs (it always starts at the first position)
            return (new SpanBatchLoader(train, corruption, config.ContextLength, padToken, (ulong)config.Seed),
                new SpanBatchLoader(validation, corruption, config.ContextLength, padToken, 0x5BA7));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The span-corruption builder a config with objective span trains with (the tokenizer's sentinels and
    /// &lt;|endoftext|&gt;, the config's noiseDensity and meanSpanLength) and the tokenizer's [PAD] id.
    /// </summary>
    public static (Objectives.SpanCorruption Corruption, int PadToken) SpanObjective(TrainingConfig config)
    {
        var tokenizer = SpanTokenizer(config);
        if (!tokenizer.SpecialTokens.TryGetValue(Checkpoints.CheckpointTokenizer.EndOfText, out int end))
            throw new InvalidDataException($"{config.Tokenizer}: the tokenizer has no {Checkpoints.CheckpointTokenizer.EndOfText} token, which ends a span-corruption example's input and target (and each document in the shards)");
        if (!tokenizer.SpecialTokens.ContainsKey(SentinelTokens.Name(0)))
            throw new InvalidDataException($"{config.Tokenizer}: the tokenizer has no sentinel tokens ({SentinelTokens.Name(0)}, {SentinelTokens.Name(1)}, ...) for span corruption; {SentinelTokens.HowToAdd}");
        return (new Objectives.SpanCorruption(SentinelTokens.Ids(tokenizer), end, config.NoiseDensity, config.MeanSpanLength), PadToken(config, tokenizer));
    }

    /// <summary>
    /// The model config <paramref name="config"/> describes, with what only its tokenizer knows: a t5's decoder start
    /// token is the tokenizer's [PAD] id (T5's own choice); the other families need no tokenizer.
    /// </summary>
    public static Models.Transformer.TransformerConfig ModelConfig(TrainingConfig config) =>
        config.Architecture == Models.Transformer.TransformerFamilies.T5
            ? config.ToModelConfig(decoderStartToken: PadToken(config, SpanTokenizer(config)))
            : config.ToModelConfig();

    private static BpeTokenizer SpanTokenizer(TrainingConfig config)
    {
        if (config.Tokenizer.Length == 0)
            throw new TrainingConfigException($"config: {(config.Objective == TrainingObjectives.Span ? "objective span" : $"architecture {config.Architecture}")} needs tokenizer (the tokenizer.json the shards were made with: it says the sentinels and [PAD])");
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        if (tokenizer.VocabularySize > config.VocabularySize)
            throw new TrainingConfigException($"{config.Tokenizer}: the tokenizer has {tokenizer.VocabularySize} ids but the model only {config.VocabularySize}");
        return tokenizer;
    }

    private static int PadToken(TrainingConfig config, BpeTokenizer tokenizer) =>
        tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Pad, out int pad) ? pad
            : throw new InvalidDataException($"{config.Tokenizer}: the tokenizer has no {EncoderTokens.Pad} token (the t5 decoder's start token and the span inputs' padding); {SentinelTokens.HowToAdd}");
}
