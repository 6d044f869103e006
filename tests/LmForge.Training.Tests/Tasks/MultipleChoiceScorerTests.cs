using System.Globalization;
using System.Runtime.InteropServices;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.SafeTensors;
using LmForge.Training.Tasks;

namespace LmForge.Training.Tests.Tasks;

public sealed class MultipleChoiceScorerTests : IDisposable
{
    readonly string _directory = TestFiles.TemporaryDirectory("multiple-choice");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // tests/reference/make_multiple_choice_fixture.py: a random tiny GPT-2 and 12 examples scored in float64 by PyTorch
    sealed class Oracle : IDisposable
    {
        readonly SafeTensorsFile _file = SafeTensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "fixtures", "multiple_choice_gpt2.safetensors"));

        public Oracle(string directory)
        {
            Config = TransformerConfig.Gpt2(Int("vocab_size"), Int("context_length"), Int("layer_count"), Int("head_count"), Int("width"));
            int[] contexts = Ints("context_tokens"), contextOffsets = Ints("context_offsets"), choices = Ints("choice_tokens"),
                choiceOffsets = Ints("choice_offsets"), starts = Ints("choice_starts"), answers = Ints("answers");
            Examples = answers.Select((answer, e) => new TokenizedExample(contexts[contextOffsets[e]..contextOffsets[e + 1]],
                Enumerable.Range(starts[e], starts[e + 1] - starts[e]).Select(c => choices[choiceOffsets[c]..choiceOffsets[c + 1]]).ToArray(), answer)).ToArray();
            Sums = Floats("expected_sum");
            Means = Floats("expected_mean");
            PickSum = Ints("pick_sum");
            PickMean = Ints("pick_mean");
            WeightsPath = Path.Combine(directory, "model.safetensors");
            SafeTensorsFile.Write(WeightsPath, _file.Tensors.Keys.Where(n => n.StartsWith("param.", StringComparison.Ordinal))
                .Select(n => new SafeTensorEntry(n["param.".Length..], _file.GetInfo(n).Shape, Floats(n))).ToList());
        }

        public TransformerConfig Config { get; }
        public TokenizedExample[] Examples { get; }
        public float[] Sums { get; }
        public float[] Means { get; }
        public int[] PickSum { get; }
        public int[] PickMean { get; }
        public string WeightsPath { get; }

        public TransformerModel LoadModel()
        {
            var model = new TransformerModel(Config, trainable: false);
            ModelCheckpoint.LoadWeights(model, WeightsPath);
            return model;
        }

        int Int(string key) => int.Parse(_file.Metadata[key], CultureInfo.InvariantCulture);

        float[] Floats(string name) => _file.ReadFloat32(name, _file.GetInfo(name).Shape.ToArray());

        int[] Ints(string name)
        {
            var info = _file.GetInfo(name);
            Assert.Equal(SafeTensorDType.I32, info.DType);
            var values = new int[info.ElementCount];
            _file.ReadBytes(name, MemoryMarshal.AsBytes(values.AsSpan()));
            return values;
        }

        public void Dispose() => _file.Dispose();
    }

    [Theory]
    [InlineData(8)]
    [InlineData(3)]
    [InlineData(1)]
    public void Gpt2ScoresMatchPyTorchChoiceForChoice(int batchSize)
    {
        using var oracle = new Oracle(_directory);
        using var model = oracle.LoadModel();
        var scores = new MultipleChoiceScorer(model, batchSize).Score(oracle.Examples);
        Assert.Contains(oracle.Examples, e => e.Context.Length + e.Choices.Max(c => c.Length) > oracle.Config.ContextLength); // one needs the left cut
        int choice = 0;
        for (int e = 0; e < scores.Count; e++)
        {
            foreach (var score in scores[e].Choices)
            {
                Assert.True(Math.Abs(score.Sum - oracle.Sums[choice]) <= 1e-4 * Math.Abs(oracle.Sums[choice]), $"example {e} choice {choice}: sum {score.Sum} vs PyTorch {oracle.Sums[choice]}");
                Assert.True(Math.Abs(score.Mean - oracle.Means[choice]) <= 1e-4 * Math.Abs(oracle.Means[choice]), $"example {e} choice {choice}: mean {score.Mean} vs PyTorch {oracle.Means[choice]}");
                choice++;
            }
            Assert.Equal(oracle.PickSum[e], scores[e].PickSum);
            Assert.Equal(oracle.PickMean[e], scores[e].PickMean);
        }
        Assert.Equal(oracle.Sums.Length, choice);
        Assert.Contains(scores, s => s.PickSum != s.PickMean); // the oracle has examples where acc and acc_norm disagree
    }

    [Fact]
    public void BatchingGivesTheScoresOfOneRowAtATime()
    {
        using var oracle = new Oracle(_directory);
        using var model = oracle.LoadModel();
        var one = new MultipleChoiceScorer(model, batchSize: 1).Score(oracle.Examples);
        var progress = new List<int>();
        var batched = new MultipleChoiceScorer(model, batchSize: 16).Score(oracle.Examples, new Recorder(progress));
        for (int e = 0; e < one.Count; e++)
            for (int c = 0; c < one[e].Choices.Count; c++)
                Assert.Equal(one[e].Choices[c].Sum, batched[e].Choices[c].Sum, 1e-5 * Math.Abs(one[e].Choices[c].Sum));
        Assert.Equal(oracle.Examples.Length, progress[^1]);
        Assert.Equal(progress.Order(), progress);
    }

    [Fact]
    public void AccAndAccNormDifferOnACraftedCase()
    {
        // a short choice with a lower total but a higher loss per token
        var score = new ExampleScore([new ChoiceScore(2.0, 2.0, 1), new ChoiceScore(3.0, 1.0, 3)], Answer: 1);
        Assert.Equal(0, score.PickSum);
        Assert.Equal(1, score.PickMean);
        var result = MultipleChoiceResult.Summarize("crafted", [score]);
        Assert.Equal(0, result.Accuracy);
        Assert.Equal(1, result.AccuracyNorm);
    }

    [Fact]
    public void T5ScoresEachChoiceAsTheDecodersTargets()
    {
        using var model = new EncoderDecoderModel(TransformerConfig.T5(vocabSize: 40, contextLength: 12, layerCount: 2, decoderLayerCount: 2, headCount: 2, width: 16, intermediateSize: 32), trainable: false);
        model.InitializeWeights(seed: 5);
        var examples = new[]
        {
            new TokenizedExample([5, 6, 7], [[8, 9], [10], [11, 12, 13]], 2),
            new TokenizedExample(Enumerable.Range(1, 20).ToArray(), [[3], [4, 5]], 0), // input cut to the last 12
        };
        var scores = new MultipleChoiceScorer(model).Score(examples);
        Assert.All(scores.SelectMany(s => s.Choices), c => Assert.True(c.Sum > 0 && double.IsFinite(c.Sum)));
        Assert.Equal(3, scores[0].Choices[2].Tokens);

        // a choice scored alone has the loss it has among others (the targets' padding is behind the causal decoder)
        var alone = new MultipleChoiceScorer(model).Score([new TokenizedExample([5, 6, 7], [[10], [11, 12, 13]], 0)]);
        Assert.Equal(scores[0].Choices[2].Sum, alone[0].Choices[1].Sum, 1e-5);
        Assert.Equal(scores[0].Choices[1].Sum, alone[0].Choices[0].Sum, 1e-5);
    }

    // An encoder's choice scores its pseudo-log-likelihood: each of its tokens masked in turn, the loss of predicting it.
    [Fact]
    public void BertScoresAChoiceByMaskingEachOfItsTokens()
    {
        const int mask = 3;
        using var model = new TransformerModel(TransformerConfig.Bert(40, 16, 1, 2, 16, 32));
        model.InitializeWeights(seed: 7);
        var error = Assert.Throws<ArgumentException>(() => new MultipleChoiceScorer(model));
        Assert.StartsWith("multiple-choice scoring of an encoder (bert) needs its tokenizer's [MASK] token", error.Message, StringComparison.Ordinal);

        var examples = new[]
        {
            new TokenizedExample([5, 6, 7], [[8, 9], [10], [11, 12, 13]], 2),
            new TokenizedExample(Enumerable.Range(4, 20).ToArray(), [[14], [15, 16]], 0), // context cut from the left
        };
        var batched = new MultipleChoiceScorer(model, batchSize: 8, maskToken: mask).Score(examples);
        var single = new MultipleChoiceScorer(model, batchSize: 1, maskToken: mask).Score(examples);
        for (int e = 0; e < examples.Length; e++)
            for (int c = 0; c < examples[e].Choices.Count; c++) Assert.Equal(single[e].Choices[c].Sum, batched[e].Choices[c].Sum, 1e-5);

        // by hand: [5 6 7 8 9] with 8, then 9, masked
        double expected = 0;
        foreach (int j in (int[])[3, 4])
        {
            int[] tokens = [5, 6, 7, 8, 9];
            int[] targets = [-1, -1, -1, -1, -1];
            targets[j] = tokens[j];
            tokens[j] = mask;
            expected += model.Forward(tokens, targets, 1, 5);
        }
        Assert.Equal(expected, batched[0].Choices[0].Sum, 1e-5);
        Assert.Equal(expected / 2, batched[0].Choices[0].Mean, 1e-5);
    }

    [Fact]
    public void AChoiceTooLongForTheContextIsAnError()
    {
        using var oracle = new Oracle(_directory);
        using var model = oracle.LoadModel();
        var error = Assert.Throws<ArgumentException>(() => new MultipleChoiceScorer(model).Score([new TokenizedExample([1], [[1], Enumerable.Repeat(2, 16).ToArray()], 0)]));
        Assert.Contains("example 0: choice 1 has 16 tokens", error.Message, StringComparison.Ordinal);
    }

    sealed class Recorder(List<int> values) : IProgress<int>
    {
        public void Report(int value) => values.Add(value);
    }
}
