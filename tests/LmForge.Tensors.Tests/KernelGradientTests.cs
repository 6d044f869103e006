using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>Every backward kernel against central finite differences of its own forward (tolerances in <see cref="GradientCheck"/>).</summary>
public sealed class KernelGradientTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    [Fact]
    public void Linear_gradients_match_finite_differences()
    {
        var random = TestData.NewRandom();
        const int rows = 5, inChannels = 11, outChannels = 9;
        using var input = TestData.Random(random, 1f, rows, inChannels);
        using var weight = TestData.Random(random, 0.5f, outChannels, inChannels);
        using var bias = TestData.Random(random, 0.5f, outChannels);
        using var output = Tensor.Allocate(rows, outChannels);
        using var r = TestData.Random(random, 1f, rows, outChannels);
        using var dinput = TestData.Random(random, 9f, rows, inChannels); // garbage: input grads are overwritten
        using var dweight = Tensor.Allocate(outChannels, inChannels);
        using var dbias = Tensor.Allocate(outChannels);
        _backend.LinearBackward(dinput, dweight, dbias, r, input, weight);

        double Loss()
        {
            _backend.LinearForward(output, input, weight, bias);
            return TestData.Dot(output, r);
        }
        GradientCheck.Check("dinput", input, dinput, Loss);
        GradientCheck.Check("dweight", weight, dweight, Loss);
        GradientCheck.Check("dbias", bias, dbias, Loss);
    }

    [Fact]
    public void LinearBackward_accumulates_parameter_gradients()
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 1f, 4, 8);
        using var weight = TestData.Random(random, 1f, 16, 8);
        using var r = TestData.Random(random, 1f, 4, 16);
        using var dinput = Tensor.Allocate(4, 8);
        using var once = Tensor.Allocate(16, 8);
        using var onceBias = Tensor.Allocate(16);
        using var twice = Tensor.Allocate(16, 8);
        using var twiceBias = Tensor.Allocate(16);
        _backend.LinearBackward(dinput, once, onceBias, r, input, weight);
        _backend.LinearBackward(dinput, twice, twiceBias, r, input, weight);
        _backend.LinearBackward(dinput, twice, twiceBias, r, input, weight);
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once.AsSpan()[i], twice.AsSpan()[i], 1e-5f);
        for (int i = 0; i < onceBias.Length; i++) Assert.Equal(2 * onceBias.AsSpan()[i], twiceBias.AsSpan()[i], 1e-5f);
    }

    [Theory]
    [InlineData(7, true)]
    [InlineData(24, true)]
    [InlineData(24, false)] // no bias (and no bias gradient)
    public void LayerNorm_gradients_match_finite_differences(int channels, bool withBias)
    {
        var random = TestData.NewRandom();
        const int rows = 4;
        using var input = TestData.Random(random, 2f, rows, channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var bias = TestData.Random(random, 1f, channels);
        using var output = Tensor.Allocate(rows, channels);
        using var mean = Tensor.Allocate(rows);
        using var rstd = Tensor.Allocate(rows);
        using var r = TestData.Random(random, 1f, rows, channels);
        using var dinput = Tensor.Allocate(rows, channels);
        using var dweight = Tensor.Allocate(channels);
        using var dbias = Tensor.Allocate(channels);
        _backend.LayerNormForward(output, mean, rstd, input, weight, withBias ? bias : null, 1e-5f);
        _backend.LayerNormBackward(dinput, dweight, withBias ? dbias : null, r, input, weight, mean, rstd);

        double Loss()
        {
            _backend.LayerNormForward(output, mean, rstd, input, weight, withBias ? bias : null, 1e-5f);
            return TestData.Dot(output, r);
        }
        GradientCheck.Check("dinput", input, dinput, Loss);
        GradientCheck.Check("dweight", weight, dweight, Loss);
        if (withBias) GradientCheck.Check("dbias", bias, dbias, Loss);
    }

    [Fact]
    public void LayerNormBackward_accumulates_into_input_gradient()
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 2f, 3, 10);
        using var weight = TestData.Random(random, 1f, 10);
        using var bias = TestData.Random(random, 1f, 10);
        using var output = Tensor.Allocate(3, 10);
        using var mean = Tensor.Allocate(3);
        using var rstd = Tensor.Allocate(3);
        using var r = TestData.Random(random, 1f, 3, 10);
        using var fresh = Tensor.Allocate(3, 10);
        using var preset = TestData.Random(random, 1f, 3, 10);
        float[] before = preset.ToArray();
        using var dweight = Tensor.Allocate(10);
        using var dbias = Tensor.Allocate(10);
        _backend.LayerNormForward(output, mean, rstd, input, weight, bias, 1e-5f);
        _backend.LayerNormBackward(fresh, dweight, dbias, r, input, weight, mean, rstd);
        _backend.LayerNormBackward(preset, dweight, dbias, r, input, weight, mean, rstd);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i] + fresh.AsSpan()[i], preset.AsSpan()[i], 1e-5f);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(40)]
    public void RmsNorm_gradients_match_finite_differences(int channels)
    {
        var random = TestData.NewRandom();
        const int rows = 4;
        using var input = TestData.Random(random, 2f, rows, channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var output = Tensor.Allocate(rows, channels);
        using var rstd = Tensor.Allocate(rows);
        using var r = TestData.Random(random, 1f, rows, channels);
        using var dinput = Tensor.Allocate(rows, channels);
        using var dweight = Tensor.Allocate(channels);
        _backend.RmsNormForward(output, rstd, input, weight, 1e-6f);
        _backend.RmsNormBackward(dinput, dweight, r, input, weight, rstd);

        double Loss()
        {
            _backend.RmsNormForward(output, rstd, input, weight, 1e-6f);
            return TestData.Dot(output, r);
        }
        GradientCheck.Check("dinput", input, dinput, Loss);
        GradientCheck.Check("dweight", weight, dweight, Loss);
    }

    [Fact]
    public void RmsNormBackward_accumulates_into_input_and_weight_gradients()
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 2f, 3, 20);
        using var weight = TestData.Random(random, 1f, 20);
        using var output = Tensor.Allocate(3, 20);
        using var rstd = Tensor.Allocate(3);
        using var r = TestData.Random(random, 1f, 3, 20);
        using var fresh = Tensor.Allocate(3, 20);
        using var freshWeight = Tensor.Allocate(20);
        using var preset = TestData.Random(random, 1f, 3, 20);
        using var presetWeight = TestData.Random(random, 1f, 20);
        float[] before = preset.ToArray(), beforeWeight = presetWeight.ToArray();
        _backend.RmsNormForward(output, rstd, input, weight, 1e-6f);
        _backend.RmsNormBackward(fresh, freshWeight, r, input, weight, rstd);
        _backend.RmsNormBackward(preset, presetWeight, r, input, weight, rstd);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i] + fresh.AsSpan()[i], preset.AsSpan()[i], 1e-5f);
        for (int i = 0; i < beforeWeight.Length; i++) Assert.Equal(beforeWeight[i] + freshWeight.AsSpan()[i], presetWeight.AsSpan()[i], 1e-5f);
    }

    [Fact]
    public void CrossEntropy_gradient_matches_finite_differences_and_ignores_padding()
    {
        var random = TestData.NewRandom();
        const int rows = 6, vocab = 13, padded = 16;
        using var logits = TestData.Random(random, 3f, rows, padded);
        using var targets = TestData.Ints([0, 12, 5, -1, 7, 3]);
        using var losses = Tensor.Allocate(rows);
        using var dlogits = TestData.Random(random, 9f, rows, padded);
        const float scale = 1f / 5; // mean over the 5 counted rows
        _backend.CrossEntropyForward(losses, logits, targets, vocab);
        _backend.CrossEntropyBackward(dlogits, logits, losses, targets, vocab, scale);
        GradientCheck.Check("dlogits", logits, dlogits, () =>
        {
            _backend.CrossEntropyForward(losses, logits, targets, vocab);
            double sum = 0;
            foreach (float loss in losses.AsSpan()) sum += loss;
            return sum * scale;
        });
        for (int row = 0; row < rows; row++)
        {
            for (int v = vocab; v < padded; v++) Assert.Equal(0f, dlogits.AsSpan()[(row * padded) + v]);
        }
        Assert.All(dlogits.ToArray().AsSpan(3 * padded, padded).ToArray(), d => Assert.Equal(0f, d));
    }

    [Fact]
    public void Embedding_gradients_match_finite_differences_with_repeated_ids()
    {
        var random = TestData.NewRandom();
        const int batch = 2, tokens = 5, channels = 40, vocab = 7, context = 8;
        using var wte = TestData.Random(random, 1f, vocab, channels);
        using var wpe = TestData.Random(random, 1f, context, channels);
        using var ids = TestData.Ints([3, 1, 3, 6, 0, 2, 2, 2, 5, 3], batch, tokens); // repeated ids: their gradients must add up
        using var positions = TestData.Ints([0, 1, 2, 3, 4, 3, 4, 5, 6, 7], batch, tokens); // the second row starts at 3
        using var output = Tensor.Allocate(batch, tokens, channels);
        using var r = TestData.Random(random, 1f, batch, tokens, channels);
        using var dwte = Tensor.Allocate(vocab, channels);
        using var dwpe = Tensor.Allocate(context, channels);
        _backend.EmbeddingBackward(dwte, r, ids);
        _backend.EmbeddingBackward(dwpe, r, positions);
        double Loss()
        {
            _backend.EmbeddingForward(output, ids, wte, accumulate: false);
            _backend.EmbeddingForward(output, positions, wpe, accumulate: true);
            return TestData.Dot(output, r);
        }
        // linear in the embeddings: differences are exact up to rounding, and unused rows must have zero gradient
        GradientCheck.Check("dwte", wte, dwte, Loss);
        GradientCheck.Check("dwpe", wpe, dwpe, Loss);

        // the table gradient accumulates: a second backward doubles it
        float[] once = dwte.ToArray();
        _backend.EmbeddingBackward(dwte, r, ids);
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], dwte.AsSpan()[i], 1e-5f);
    }
}
