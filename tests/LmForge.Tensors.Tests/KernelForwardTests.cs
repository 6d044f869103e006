using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Tensors.Tests;

/// <summary>Forward kernels against direct double-precision evaluations of their textbook definitions.</summary>
public sealed class KernelForwardTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    [Fact]
    public void LayerNorm_forward_matches_definition()
    {
        var random = TestData.NewRandom();
        const int rows = 3, channels = 19;
        using var input = TestData.Random(random, 3f, rows, channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var bias = TestData.Random(random, 1f, channels);
        using var output = Tensor.Allocate(rows, channels);
        using var mean = Tensor.Allocate(rows);
        using var rstd = Tensor.Allocate(rows);
        _backend.LayerNormForward(output, mean, rstd, input, weight, bias);
        var x = input.AsSpan();
        for (int row = 0; row < rows; row++)
        {
            double m = 0, v = 0;
            for (int c = 0; c < channels; c++) m += x[(row * channels) + c];
            m /= channels;
            for (int c = 0; c < channels; c++) v += Math.Pow(x[(row * channels) + c] - m, 2);
            double s = 1 / Math.Sqrt((v / channels) + 1e-5);
            Assert.Equal(m, mean.AsSpan()[row], 1e-5);
            Assert.Equal(s, rstd.AsSpan()[row], 1e-4);
            for (int c = 0; c < channels; c++)
                Assert.Equal(((x[(row * channels) + c] - m) * s * weight.AsSpan()[c]) + bias.AsSpan()[c], output.AsSpan()[(row * channels) + c], 1e-5);
        }
    }

    [Fact]
    public void Gelu_forward_matches_tanh_formula_including_large_inputs()
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 6f, 101);
        input.AsSpan()[0] = 60f;
        input.AsSpan()[1] = -60f;
        using var output = Tensor.Allocate(101);
        _backend.GeluForward(output, input);
        for (int i = 0; i < 101; i++)
        {
            double x = input.AsSpan()[i];
            double expected = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x))));
            Assert.Equal(expected, output.AsSpan()[i], 1e-5 * Math.Max(1, Math.Abs(expected)));
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
        using var losses = Tensor.Allocate(rows);
        _backend.CrossEntropyForward(losses, logits, targets, vocab);
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

    [Fact]
    public void Encoder_and_residual_forward_add_the_right_rows()
    {
        var random = TestData.NewRandom();
        using var wte = TestData.Random(random, 1f, 5, 9);
        using var wpe = TestData.Random(random, 1f, 4, 9);
        int[] ids = [4, 0, 2, 2, 1, 3];
        using var output = Tensor.Allocate(2, 3, 9);
        _backend.EncoderForward(output, ids, wte, wpe);
        for (int row = 0; row < 6; row++)
        {
            for (int c = 0; c < 9; c++)
                Assert.Equal(wte.AsSpan()[(ids[row] * 9) + c] + wpe.AsSpan()[((row % 3) * 9) + c], output.AsSpan()[(row * 9) + c]);
        }
        using var sum = Tensor.Allocate(2, 3, 9);
        _backend.ResidualForward(sum, output, output);
        for (int i = 0; i < 54; i++) Assert.Equal(2 * output.AsSpan()[i], sum.AsSpan()[i]);
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
