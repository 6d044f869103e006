using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;
using LmForge.Training.Metrics;

namespace LmForge.Training.Tests.Objectives;

/// <summary>Objective span from a config: the tokenizer's sentinels, end token and [PAD], its errors, and the trainer's B x TargetLength targets.</summary>
public class SpanTrainingTests
{
    const string Text = "the red boats sail past the old harbours at dawn and the gulls follow them out to sea. ";

    static TrainingConfig Config(string directory, IReadOnlyList<string> specials, int contextLength = 32)
    {
        string text = string.Concat(Enumerable.Range(0, 300).Select(i => $"{i % 7} {Text}"));
        var (tokenizer, train, validation, vocabulary) = TestFiles.Corpus(directory, text, 300 + specials.Count, specials, trainFraction: 0.8);
        return new TrainingConfig
        {
            Architecture = "t5", Objective = TrainingObjectives.Span, Layers = 1, Heads = 1, EmbeddingSize = 16, ContextLength = contextLength,
            VocabularySize = vocabulary, Tokenizer = tokenizer, TrainShards = train, ValidationShards = validation,
            MicroBatchSize = 2, TotalBatchTokens = 2 * 2 * contextLength, LearningRate = 1e-2f, MinLearningRate = 1e-3f, WarmupSteps = 2,
            Steps = 10, Seed = 9, EvalEvery = 4, EvalBatches = 2, SampleEvery = 0, CheckpointEvery = 0,
        };
    }

    static IReadOnlyList<string> T5Specials => [.. EncoderTokens.All, .. SentinelTokens.Names()];

    static List<(int[], int[])> Batches(IBatchSource source, int count)
    {
        var batches = new List<(int[], int[])>();
        for (int i = 0; i < count; i++)
        {
            var inputs = new int[source.BatchSize * source.SequenceLength];
            var targets = new int[source.BatchSize * source.TargetLength];
            source.Next(inputs, targets, new int[inputs.Length]);
            batches.Add((inputs, targets));
        }
        return batches;
    }

    [Fact]
    public void A_span_config_opens_span_batches_with_the_tokenizers_tokens()
    {
        var config = Config(TestFiles.TemporaryDirectory("span-data"), T5Specials);
        var tokenizer = HuggingFaceTokenizerFile.Load(config.Tokenizer);
        var (train, validation) = TrainingData.Open(config);
        using (train)
        using (validation)
        {
            var spans = Assert.IsType<SpanBatchLoader>(train);
            Assert.Equal(32, spans.SequenceLength);
            Assert.Equal(34, spans.WindowLength); // 5 noise tokens in 2 spans: 29 kept + 2 sentinels + the end = 32
            Assert.Equal(9, spans.TargetLength); // 2 sentinels, 5 noise tokens, the final sentinel, the end
            Assert.Equal(SentinelTokens.Ids(tokenizer), spans.Corruption.SentinelIds);
            Assert.Equal(tokenizer.GetSpecialTokenId(BpeTrainerOptions.EndOfText), spans.Corruption.EndId);
            Assert.Equal((config.NoiseDensity, config.MeanSpanLength), (spans.Corruption.NoiseDensity, spans.Corruption.MeanSpanLength));
            var (inputs, targets) = Batches(train, 1)[0];
            Assert.Contains(SentinelTokens.Ids(tokenizer)[0], inputs);
            Assert.Equal(SentinelTokens.Ids(tokenizer)[0], targets[0]);

            var first = Batches(validation, 3);
            validation.Reset();
            var second = Batches(validation, 3); // validation is corrupted the same way every time
            Assert.Equal(first.Select(b => b.Item1), second.Select(b => b.Item1));
            Assert.Equal(first.Select(b => b.Item2), second.Select(b => b.Item2));
        }

        var model = TrainingData.ModelConfig(config);
        Assert.Equal(("t5", 1, tokenizer.GetSpecialTokenId(EncoderTokens.Pad)), (model.Family, model.DecoderLayerCount, model.DecoderStartToken));
    }

    [Fact]
    public void A_tokenizer_without_sentinels_or_a_config_without_one_is_a_one_line_error()
    {
        var config = Config(TestFiles.TemporaryDirectory("span-no-sentinels"), EncoderTokens.All);
        var error = Assert.Throws<InvalidDataException>(() => TrainingData.Open(config));
        Assert.StartsWith(config.Tokenizer, error.Message, StringComparison.Ordinal);
        Assert.Contains("<extra_id_0>", error.Message, StringComparison.Ordinal);
        Assert.Contains("lmforge tokenizer add-encoder-tokens", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);

        var noPad = Config(TestFiles.TemporaryDirectory("span-no-pad"), SentinelTokens.Names());
        Assert.Contains("no [PAD] token", Assert.Throws<InvalidDataException>(() => TrainingData.Open(noPad)).Message, StringComparison.Ordinal);
        Assert.Contains("no [PAD] token", Assert.Throws<InvalidDataException>(() => TrainingData.ModelConfig(noPad)).Message, StringComparison.Ordinal);

        var noTokenizer = Assert.Throws<TrainingConfigException>(() => TrainingData.Open(config with { Tokenizer = "" }));
        Assert.Equal("config: objective span needs tokenizer (the tokenizer.json the shards were made with: it says the sentinels and [PAD])", noTokenizer.Message);
    }

    [Fact]
    public void A_context_too_short_or_too_long_for_the_sentinels_says_what_to_change()
    {
        var config = Config(TestFiles.TemporaryDirectory("span-short"), T5Specials);
        var error = Assert.Throws<TrainingConfigException>(() => TrainingData.Open(config with { ContextLength = 2 }));
        Assert.Equal("config: contextLength = 2 is too short for objective span: even a window of 2 tokens corrupts into 3 input tokens (kept, sentinel, end); use contextLength 3 or more", error.Message);

        var few = Config(TestFiles.TemporaryDirectory("span-few"), [.. EncoderTokens.All, .. SentinelTokens.Names(3)], contextLength: 64);
        error = Assert.Throws<TrainingConfigException>(() => TrainingData.Open(few));
        Assert.Contains("contextLength = 64 makes span-corruption windows of 70 tokens with 3 noise spans, which take 4 sentinels", error.Message, StringComparison.Ordinal);
        Assert.Contains("has 3; use a shorter contextLength", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        using var fits = TrainingData.Open(few with { ContextLength = 32 }).Train; // 2 spans and the final sentinel: 3 are enough

        // at a high noise density the targets outgrow the inputs, and the decoder's limit
        error = Assert.Throws<TrainingConfigException>(() => TrainingData.Open(config with { NoiseDensity = 0.9, MeanSpanLength = 10 }));
        Assert.StartsWith("config: noiseDensity = 0.9 makes span-corruption targets of", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("longer than contextLength = 32 (the decoder's limit too); lower noiseDensity below 0.5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_trainer_passes_the_decoders_targets_and_resumes_bit_for_bit()
    {
        string directory = TestFiles.TemporaryDirectory("span-trainer");
        var config = Config(directory, T5Specials);
        using var straight = new DecoderLabels(config);
        using (var trainer = Trainer.Start(config, straight, CpuBackend.Shared, Path.Combine(directory, "straight"))) trainer.Run();
        Assert.Equal(9, straight.TargetLength);
        Assert.True(straight.Calls > 0);
        var records = MetricsLog.Read(Path.Combine(directory, "straight", Trainer.MetricsFile));
        Assert.All(records, r => Assert.True(r.TrainLoss is null || float.IsFinite(r.TrainLoss.Value)));

        string interrupted = Path.Combine(directory, "interrupted");
        using (var first = new DecoderLabels(config))
        using (var trainer = Trainer.Start(config, first, CpuBackend.Shared, interrupted))
        {
            using var stop = new CancellationTokenSource();
            trainer.Listener = new StopAfter(5, stop);
            Assert.True(trainer.Run(stop.Token).Interrupted);
        }
        using var resumed = new DecoderLabels(config, seed: 99);
        using (var trainer = Trainer.Resume(config, resumed, CpuBackend.Shared, interrupted, CheckpointDirectory.FindLatest(interrupted)!)) trainer.Run();
        var again = MetricsLog.Read(Path.Combine(interrupted, Trainer.MetricsFile));
        Assert.Equal(records.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)), again.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss)));
        Assert.True(straight.Parameters.AsSpan().SequenceEqual(resumed.Parameters.AsSpan()));

        using var validation = TrainingData.Open(config).Validation;
        var evaluation = Evaluation.Run(straight, validation, maxBatches: 2);
        Assert.Equal(2, evaluation.Batches);
        Assert.True(double.IsFinite(evaluation.MeanLoss));
    }


    /// <summary>
    /// Stands in for an encoder-decoder in the trainer's mechanics: it checks that the targets are B x the span targets
    /// per row and learns them at the first positions of each row (the tiny model has no decoder).
    /// </summary>
    sealed class DecoderLabels(TrainingConfig config, int seed = 1) : ITrainableModel
    {
        readonly TinyLanguageModel _model = new(config.VocabularySize, config.ContextLength, 16, seed);

        public int TargetLength { get; private set; }
        public int Calls { get; private set; }
        public int VocabularySize => _model.VocabularySize;
        public int ContextLength => _model.ContextLength;
        public IBackend Backend => _model.Backend;
        public Tensor Parameters => _model.Parameters;
        public Tensor Gradients => _model.Gradients;
        public long DecayedParameterCount => _model.DecayedParameterCount;
        public double TrainingFlopsPerToken(int sequenceLength) => _model.TrainingFlopsPerToken(sequenceLength);

        int[] RowTargets(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int b, int t)
        {
            Assert.Equal(b * t, inputs.Length);
            Assert.Equal(0, targets.Length % b);
            int length = targets.Length / b;
            Assert.InRange(length, 1, t - 1); // fewer than the inputs: these are the span targets, not one per input
            if (TargetLength != 0) Assert.Equal(TargetLength, length);
            TargetLength = length;
            Calls++;
            var padded = Enumerable.Repeat(-1, b * t).ToArray();
            for (int row = 0; row < b; row++) targets.Slice(row * length, length).CopyTo(padded.AsSpan(row * t));
            return padded;
        }

        public float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, float lossScale, ReadOnlySpan<int> documentStarts = default) =>
            _model.ForwardBackward(inputs, RowTargets(inputs, targets, batchSize, sequenceLength), batchSize, sequenceLength, lossScale);

        public float Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batchSize, int sequenceLength, ReadOnlySpan<int> documentStarts = default) =>
            _model.Loss(inputs, RowTargets(inputs, targets, batchSize, sequenceLength), batchSize, sequenceLength);

        public void SaveWeights(string directory) => _model.SaveWeights(directory);
        public void LoadWeights(string directory) => _model.LoadWeights(directory);
        public void Dispose() => _model.Dispose();
    }
}
