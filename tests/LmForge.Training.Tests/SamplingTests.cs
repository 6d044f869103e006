using LmForge.Inference;

namespace LmForge.Training.Tests;

public class SamplingTests
{
    static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 0.0f, -1.0f];

    static int[] Histogram(SamplingOptions options, int draws)
    {
        var sampler = new TokenSampler(options, Logits.Length);
        var counts = new int[Logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits)]++;
        return counts;
    }

    [Fact]
    public void TemperatureOne_DrawsFromTheSoftmax()
    {
        var counts = Histogram(new SamplingOptions(Seed: 20230828), 100_000);
        double normalizer = Logits.Sum(l => Math.Exp(l));
        for (int i = 0; i < Logits.Length; i++)
        {
            double expected = 100_000 * Math.Exp(Logits[i]) / normalizer;
            Assert.InRange(counts[i], expected - 5 * Math.Sqrt(expected) - 1, expected + 5 * Math.Sqrt(expected) + 1);
        }
    }

    [Fact]
    public void TopK_And_TopP_KeepOnlyTheMostLikelyTokens()
    {
        var topTwo = Histogram(new SamplingOptions(TopK: 2, Seed: 1), 10_000);
        Assert.True(topTwo[0] > 0 && topTwo[1] > 0);
        Assert.Equal(0, topTwo[2] + topTwo[3] + topTwo[4]);
        // Softmax probabilities: 0.55, 0.20, 0.12, 0.07, 0.03; top-p 0.7 keeps the first two (0.55 < 0.7 <= 0.75).
        var nucleus = Histogram(new SamplingOptions(TopP: 0.7f, Seed: 1), 10_000);
        Assert.True(nucleus[1] > 0);
        Assert.Equal(0, nucleus[2] + nucleus[3] + nucleus[4]);
        Assert.Equal(10_000, Histogram(new SamplingOptions(Temperature: 0, Seed: 1), 10_000)[0]);
    }

    [Fact]
    public void FixedSeedRepeats_AndUnseededSamplesDiffer()
    {
        var model = new CyclingModel(50);
        var generator = new Generator(model);
        var a = generator.Generate([1], new SamplingOptions(MaxTokens: 30, Seed: 7)).ToList();
        var b = generator.Generate([1], new SamplingOptions(MaxTokens: 30, Seed: 7)).ToList();
        Assert.Equal(a, b);
        var unseeded = Enumerable.Range(0, 4).Select(_ => generator.Generate([1], new SamplingOptions(MaxTokens: 30)).ToList()).ToList();
        Assert.True(unseeded.Distinct(new SequenceComparer()).Count() > 1);
    }

    [Fact]
    public void Generate_StopsAtTheStopToken_AndCutsTheContextToTheModelsLength()
    {
        var model = new CyclingModel(10) { ContextLengthValue = 4 };
        // Greedy on this model always predicts (last + 1) mod 10, so from 5 it yields 6, 7, 8 and stops before 9.
        var tokens = new Generator(model).Generate([3, 4, 5], new SamplingOptions(Temperature: 0, MaxTokens: 20), stopToken: 9).ToList();
        Assert.Equal([6, 7, 8], tokens);
        Assert.All(model.ContextLengths, length => Assert.InRange(length, 1, 4));
    }

    [Theory]
    [InlineData(-1f, 0, 1f, "temperature")]
    [InlineData(1f, -2, 1f, "top-k")]
    [InlineData(1f, 0, 0f, "top-p")]
    [InlineData(1f, 0, 1.5f, "top-p")]
    public void BadOptions_Throw(float temperature, int topK, float topP, string named)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplingOptions(temperature, topK, topP), 5));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Puts most of the probability on (last token + 1) mod V and a little everywhere else.</summary>
    sealed class CyclingModel(int vocabulary) : ILanguageModel
    {
        public int ContextLengthValue { get; init; } = 64;
        public List<int> ContextLengths { get; } = [];
        public int VocabularySize => vocabulary;
        public int ContextLength => ContextLengthValue;

        public void NextTokenLogits(ReadOnlySpan<int> context, Span<float> logits)
        {
            ContextLengths.Add(context.Length);
            logits.Fill(0f);
            logits[(context[^1] + 1) % vocabulary] = 3f;
        }
    }

    sealed class SequenceComparer : IEqualityComparer<List<int>>
    {
        public bool Equals(List<int>? x, List<int>? y) => x!.SequenceEqual(y!);
        public int GetHashCode(List<int> obj) => obj.Count;
    }
}
