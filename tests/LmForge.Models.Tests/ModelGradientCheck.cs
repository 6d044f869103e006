using LmForge.Models.Transformer;
using LmForge.Tensors;
using Xunit.Abstractions;

namespace LmForge.Models.Tests;

/// <summary>
/// Central finite differences of a whole model's loss against its backward, parameter tensor by parameter tensor: the
/// largest gradients and a few random elements of each.
/// </summary>
internal static class ModelGradientCheck
{
    /// <summary>
    /// Larger weights than the 0.02 init (matrices and biases uniform in ±0.4, norm gains 1 ± 0.2) make every path
    /// (attention softmax, norms, activations) matter to the loss.
    /// </summary>
    public static void RandomizeWeights(TransformerModel model, Random random) => RandomizeWeights(model.ParameterLayout, model.GetParameter, random);

    public static void RandomizeWeights(EncoderDecoderModel model, Random random) => RandomizeWeights(model.ParameterLayout, model.GetParameter, random);

    private static void RandomizeWeights(IReadOnlyList<ModelParameter> layout, Func<string, Tensor> parameter, Random random)
    {
        foreach (var p in layout)
        {
            var values = parameter(p.Name).AsSpan();
            if (p.Init is ParameterInit.Normal or ParameterInit.ResidualNormal or ParameterInit.Zeros)
            {
                int real = (int)(p.Length / p.Shape[0] * p.RealRows);
                for (int i = 0; i < real; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * 0.4f;
            }
            else
            {
                foreach (ref float v in values) v = 1f + ((float)random.NextDouble() - 0.5f) * 0.4f;
            }
        }
    }

    /// <summary>Checks gradients (the backward's, copied out) against central differences of loss, which runs a forward.</summary>
    public static void Check(string name, TransformerModel model, float[] gradients, Func<double> loss, Random random, ITestOutputHelper output) =>
        Check(name, model.ParameterLayout, model.GetParameter, gradients, loss, random, output);

    public static void Check(string name, EncoderDecoderModel model, float[] gradients, Func<double> loss, Random random, ITestOutputHelper output) =>
        Check(name, model.ParameterLayout, model.GetParameter, gradients, loss, random, output);

    private static void Check(string name, IReadOnlyList<ModelParameter> layout, Func<string, Tensor> parameter, float[] gradients, Func<double> loss,
        Random random, ITestOutputHelper output)
    {
        int checkedCount = 0;
        foreach (var p in layout)
        {
            var values = parameter(p.Name).AsSpan();
            int real = (int)(p.Length / p.Shape[0] * p.RealRows);
            double scale = 0;
            for (int i = 0; i < real; i++) scale = Math.Max(scale, Math.Abs(gradients[p.Offset + i]));
            // the largest gradients and a few random elements of every tensor
            var indices = Enumerable.Range(0, real).OrderByDescending(i => Math.Abs(gradients[p.Offset + i])).Take(3)
                .Concat(Enumerable.Range(0, 3).Select(_ => random.Next(real))).Distinct();
            double worst = 0;
            foreach (int i in indices)
            {
                float original = values[i];
                const float h = 1e-2f;
                values[i] = original + h;
                double plus = loss();
                values[i] = original - h;
                double minus = loss();
                values[i] = original;
                double numeric = (plus - minus) / (2 * h);
                double analytic = gradients[p.Offset + i];
                double error = Math.Abs(numeric - analytic);
                worst = Math.Max(worst, error / Math.Max(scale, 1e-3));
                Assert.True(error <= (0.01 * Math.Abs(analytic)) + (2e-3 * scale) + 2e-5,
                    $"{name}: d loss / d {p.Name}[{i}]: backward {analytic:E4}, finite difference {numeric:E4}");
                checkedCount++;
            }
            output.WriteLine($"{p.Name}: largest |grad| {scale:E2}, worst error / largest {worst:E2}");
            Assert.True(scale > 0, $"{name}: {p.Name} received no gradient");
        }
        Assert.True(checkedCount >= 3 * layout.Count);
    }
}
