using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using LmForge.Training.PostTraining;

namespace LmForge.Training.Data;

/// <summary>
/// The training and validation batches a config names: token shards for pretraining, or a conversations file for
/// supervised fine-tuning (packed rows, loss on the assistant's replies only, validated on held-out conversations:
/// another file, or a seeded fraction of the same one).
/// </summary>
public static class TrainingData
{
    public static (IBatchSource Train, IBatchSource Validation) Open(TrainingConfig config, Action<string>? log = null)
    {
        if (config.Objective == TrainingObjectives.Masked) return OpenMasked(config);
        if (config.TrainChats.Length == 0)
        {
            var train = new TokenBatchLoader(TokenShardSet.Resolve(config.TrainShards, "train"), config.MicroBatchSize, config.ContextLength,
                config.VocabularySize, (ulong)config.Seed, config.ShuffleTrainingData);
            try
            {
                return (train, new TokenBatchLoader(TokenShardSet.Resolve(config.ValidationShards, "val"), config.MicroBatchSize, config.ContextLength,
                    config.VocabularySize, 0, shuffle: false));
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
        return (new ChatBatchLoader(trainRows, name, config.MicroBatchSize, (ulong)config.Seed, config.ShuffleTrainingData),
            new ChatBatchLoader(validationRows, $"{name} (validation)", config.MicroBatchSize, 0, shuffle: false, wholePasses: true));
    }

    // Masked LM over the shards: the tokenizer says which ids are [MASK] and never to be chosen.
    private static (IBatchSource, IBatchSource) OpenMasked(TrainingConfig config)
    {
        if (config.Tokenizer.Length == 0) throw new TrainingConfigException("config: objective masked needs tokenizer (the tokenizer.json the shards were made with)");
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        if (!tokenizer.SpecialTokens.TryGetValue(EncoderTokens.Mask, out int mask))
            throw new InvalidDataException($"{config.Tokenizer}: the tokenizer has no {EncoderTokens.Mask} token for masked-LM training; train it with lmforge tokenizer train --encoder");
        var masking = new Objectives.MaskedLanguageModeling(config.VocabularySize, mask, tokenizer.SpecialTokens.Values, config.MaskingRate);
        var train = new TokenBatchLoader(TokenShardSet.Resolve(config.TrainShards, "train"), config.MicroBatchSize, config.ContextLength,
            config.VocabularySize, (ulong)config.Seed, config.ShuffleTrainingData);
        try
        {
            var validation = new TokenBatchLoader(TokenShardSet.Resolve(config.ValidationShards, "val"), config.MicroBatchSize, config.ContextLength,
                config.VocabularySize, 0, shuffle: false);
            // validation masks the same way every time it runs (it always starts at the first position)
            return (new MaskedBatchLoader(train, masking, (ulong)config.Seed), new MaskedBatchLoader(validation, masking, 0x7A11D));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }
}
