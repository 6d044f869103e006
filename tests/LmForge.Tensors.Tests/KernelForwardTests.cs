using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Tensors.Tests;

/// <summary>Forward kernels against direct double-precision evaluations of their textbook definitions.</summary>
public sealed class KernelForwardTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    [Theory]
    [InlineData(19, true, 1e-5f)]   // GPT-2: bias, eps 1e-5
    [InlineData(24, false, 1e-12f)] // no bias, BERT's eps
    public void LayerNorm_forward_matches_definition(int channels, bool withBias, float epsilon)
    {
        var random = TestData.NewRandom();
        const int rows = 3;
        using var input = TestData.Random(random, 3f, rows, channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var bias = TestData.Random(random, 1f, channels);
        using var output = Tensor.Allocate(rows, channels);
        using var mean = Tensor.Allocate(rows);
        using var rstd = Tensor.Allocate(rows);
        _backend.LayerNormForward(output, mean, rstd, input, weight, withBias ? bias : null, epsilon);
        var x = input.AsSpan();
        for (int row = 0; row < rows; row++)
        {
            double m = 0, v = 0;
            for (int c = 0; c < channels; c++) m += x[(row * channels) + c];
            m /= channels;
            for (int c = 0; c < channels; c++) v += Math.Pow(x[(row * channels) + c] - m, 2);
            double s = 1 / Math.Sqrt((v / channels) + epsilon);
            Assert.Equal(m, mean.AsSpan()[row], 1e-5);
            Assert.Equal(s, rstd.AsSpan()[row], 1e-4);
            for (int c = 0; c < channels; c++)
            {
                double expected = ((x[(row * channels) + c] - m) * s * weight.AsSpan()[c]) + (withBias ? bias.AsSpan()[c] : 0);
                Assert.Equal(expected, output.AsSpan()[(row * channels) + c], 1e-5);
            }
        }
    }

    [Fact]
    public void LayerNorm_epsilon_is_the_callers()
    {
        // a constant row has variance 0, so rstd is exactly 1/√eps: 1e-12 (BERT) gives 1e6, 1e-5 (GPT-2) about 316
        using var input = Tensor.Allocate(1, 8);
        input.AsSpan().Fill(0.25f);
        using var weight = Tensor.Allocate(8);
        using var output = Tensor.Allocate(1, 8);
        using var mean = Tensor.Allocate(1);
        using var rstd = Tensor.Allocate(1);
        _backend.LayerNormForward(output, mean, rstd, input, weight, null, 1e-12f);
        Assert.Equal(1e6, rstd.AsSpan()[0], 1e6 * 1e-6);
        _backend.LayerNormForward(output, mean, rstd, input, weight, null, 1e-5f);
        Assert.Equal(1 / Math.Sqrt(1e-5), rstd.AsSpan()[0], 1e-3);
    }

    [Theory]
    [InlineData(19, 1e-6f)]
    [InlineData(64, 1e-5f)]
    public void RmsNorm_forward_matches_definition(int channels, float epsilon)
    {
        var random = TestData.NewRandom();
        const int rows = 5;
        using var input = TestData.Random(random, 3f, rows, channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var output = Tensor.Allocate(rows, channels);
        using var rstd = Tensor.Allocate(rows);
        _backend.RmsNormForward(output, rstd, input, weight, epsilon);
        var x = input.AsSpan();
        for (int row = 0; row < rows; row++)
        {
            double squares = 0;
            for (int c = 0; c < channels; c++) squares += (double)x[(row * channels) + c] * x[(row * channels) + c];
            double s = 1 / Math.Sqrt((squares / channels) + epsilon);
            Assert.Equal(s, rstd.AsSpan()[row], s * 1e-6);
            for (int c = 0; c < channels; c++)
                Assert.Equal(x[(row * channels) + c] * s * weight.AsSpan()[c], output.AsSpan()[(row * channels) + c], 1e-5);
        }
    }

    [Fact]
    public void CrossEntropy_forward_uses_only_the_real_vocabulary()
    {
        var random = TestData.NewRandom();
        const int rows = 4, vocab = 21, padded = 32;
        using var logits = TestData.Random(random, 5f, rows, padded);
        for (int row = 0; row < rows; row++)
        {
            for (int v = vocab; v < padded; v++) logits.AsSpan()[(row * padded) + v] = 1000f; // would dominate if counted
        }
        int[] targets = [3, 20, -1, 0];
        using var targetIds = TestData.Ints(targets);
        using var losses = Tensor.Allocate(rows);
        _backend.CrossEntropyForward(losses, logits, targetIds, vocab);
        for (int row = 0; row < rows; row++)
        {
            if (targets[row] < 0)
            {
                Assert.Equal(0f, losses.AsSpan()[row]);
                continue;
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += Math.Exp(logits.AsSpan()[(row * padded) + v]);
            Assert.Equal(Math.Log(sum) - logits.AsSpan()[(row * padded) + targets[row]], losses.AsSpan()[row], 1e-5);
        }
    }

    [Theory]
    [InlineData(9)]  // scalar tail only
    [InlineData(37)] // vector body and tail
    public void Embedding_forward_gathers_rows_and_accumulates_on_request(int channels)
    {
        var random = TestData.NewRandom();
        using var wte = TestData.Random(random, 1f, 5, channels);
        using var wpe = TestData.Random(random, 1f, 4, channels);
        int[] tokens = [4, 0, 2, 2, 1, 3];
        int[] positions = [1, 2, 3, 0, 1, 2]; // not starting at 0, as with a cache or packed sequences
        using var ids = TestData.Ints(tokens, 2, 3);
        using var positionIds = TestData.Ints(positions);
        using var output = TestData.Random(random, 9f, 2, 3, channels); // garbage: overwritten without accumulate
        _backend.EmbeddingForward(output, ids, wte, accumulate: false);
        for (int row = 0; row < 6; row++)
        {
            for (int c = 0; c < channels; c++) Assert.Equal(wte.AsSpan()[(tokens[row] * channels) + c], output.AsSpan()[(row * channels) + c]);
        }
        _backend.EmbeddingForward(output, positionIds, wpe, accumulate: true);
        for (int row = 0; row < 6; row++)
        {
            for (int c = 0; c < channels; c++)
            {
                Assert.Equal(wte.AsSpan()[(tokens[row] * channels) + c] + wpe.AsSpan()[(positions[row] * channels) + c],
                    output.AsSpan()[(row * channels) + c]);
            }
        }
        using var sum = Tensor.Allocate(2, 3, channels);
        _backend.ResidualForward(sum, output, output);
        for (int i = 0; i < sum.Length; i++) Assert.Equal(2 * output.AsSpan()[i], sum.AsSpan()[i]);
    }

    [Fact]
    public void Linear_forward_matches_definition()
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 1f, 2, 3, 10);
        using var weight = TestData.Random(random, 1f, 7, 10);
        using var bias = TestData.Random(random, 1f, 7);
        using var output = Tensor.Allocate(2, 3, 7);
        _backend.LinearForward(output, input, weight, bias);
        for (int n = 0; n < 6; n++)
        for (int o = 0; o < 7; o++)
        {
            double expected = bias.AsSpan()[o];
            for (int c = 0; c < 10; c++) expected += input.AsSpan()[(n * 10) + c] * (double)weight.AsSpan()[(o * 10) + c];
            Assert.Equal(expected, output.AsSpan()[(n * 7) + o], 1e-5);
        }
    }

    [Fact]
    public void Linear_runs_its_products_on_the_backends_own_pool()
    {
        // A backend built on a given pool must not fall back to the shared one: on a disposed pool, a product large
        // enough to be split across workers has to fail instead of quietly running elsewhere.
        var pool = new WorkerPool(2);
        pool.Dispose();
        var backend = new CpuBackend(pool);
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 1f, 256, 256);
        using var weight = TestData.Random(random, 1f, 256, 256);
        using var output = Tensor.Allocate(256, 256);
        Assert.Throws<ObjectDisposedException>(() => backend.LinearForward(output, input, weight, null));
        // One row against a wide weight: the few-rows path, split across workers too.
        using var token = TestData.Random(random, 1f, 1, 512);
        using var wide = TestData.Random(random, 1f, 1024, 512);
        using var logits = Tensor.Allocate(1, 1024);
        Assert.Throws<ObjectDisposedException>(() => backend.LinearForward(logits, token, wide, null));
        using var inputGrad = Tensor.Allocate(256, 256);
        using var weightGrad = Tensor.Allocate(256, 256);
        Assert.Throws<ObjectDisposedException>(() => backend.LinearBackward(inputGrad, weightGrad, null, output, input, weight));
    }

    [Fact]
    public void Sums_match_double_sums_over_many_blocks_and_clear_zeroes()
    {
        var random = TestData.NewRandom();
        using var values = TestData.Random(random, 1f, 100_003);
        double expected = 0;
        foreach (float v in values.AsSpan()) expected += (double)v * v;
        Assert.Equal(expected, _backend.SumOfSquares(values), expected * 1e-6);
        double sum = 0;
        foreach (float v in values.AsSpan()) sum += v;
        Assert.Equal(sum, _backend.Sum(values), 1e-6 * Math.Sqrt(values.Length));
        _backend.Clear(values);
        Assert.All(values.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void AdamW_matches_torch_formula_and_decays_only_the_first_range()
    {
        var random = TestData.NewRandom();
        const int length = 1003, decayed = 517; // odd sizes: vector body, scalar tail, and the split inside a vector
        using var parameters = TestData.Random(random, 1f, length);
        using var gradients = TestData.Random(random, 1f, length);
        var settings = new AdamWSettings(Beta1: 0.8f, Beta2: 0.95f, Epsilon: 1e-6f, WeightDecay: 0.3f);
        using var optimizer = new AdamWOptimizer(_backend, length, decayed, settings);
        double[] p = parameters.ToArray().Select(v => (double)v).ToArray();
        double[] m = new double[length], v = new double[length];
        const double lr = 0.05, gradScale = 0.7;
        for (int step = 1; step <= 3; step++)
        {
            optimizer.Step(parameters, gradients, (float)lr, (float)gradScale);
            for (int i = 0; i < length; i++)
            {
                double g = gradients.AsSpan()[i] * gradScale;
                if (i < decayed) p[i] *= 1 - (lr * settings.WeightDecay);
                m[i] = (settings.Beta1 * m[i]) + ((1 - settings.Beta1) * g);
                v[i] = (settings.Beta2 * v[i]) + ((1 - settings.Beta2) * g * g);
                double mHat = m[i] / (1 - Math.Pow(settings.Beta1, step));
                double vHat = v[i] / (1 - Math.Pow(settings.Beta2, step));
                p[i] -= lr * mHat / (Math.Sqrt(vHat) + settings.Epsilon);
            }
            TestData.Fill(random, gradients, 1f);
        }
        for (int i = 0; i < length; i++) Assert.Equal(p[i], parameters.AsSpan()[i], 2e-5);
        Assert.Equal(3, optimizer.StepCount);
    }
}
