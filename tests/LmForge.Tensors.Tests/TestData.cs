using LmForge.Tensors;

namespace LmForge.Tensors.Tests;

internal static class TestData
{
    public static Random NewRandom() => new(20230828);

    public static Tensor Random(Random random, float scale, params int[] shape)
    {
        var tensor = Tensor.Allocate(new TensorShape(shape));
        Fill(random, tensor, scale);
        return tensor;
    }

    public static void Fill(Random random, Tensor tensor, float scale)
    {
        var span = tensor.AsSpan();
        for (int i = 0; i < span.Length; i++) span[i] = (float)(((random.NextDouble() * 2) - 1) * scale);
    }

    /// <summary>An Int32 tensor (ids, positions, targets) holding values, shaped (values.Length) or as given.</summary>
    public static Tensor Ints(int[] values, params int[] shape)
    {
        var tensor = Tensor.AllocateInt32(new TensorShape(shape.Length == 0 ? [values.Length] : shape));
        tensor.CopyFrom(values);
        return tensor;
    }

    /// <summary>
    /// erf in double from its everywhere-convergent series of positive terms (no cancellation, about 1e-15 relative):
    /// erf(x) = 2/√π · exp(−x²) · Σₙ x·(2x²)ⁿ / (1·3·5···(2n+1)).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (Math.Abs(x) >= 6) return Math.Sign(x); // 1 − erf(6) ≈ 2e-17 is below half an ulp of 1
        double twoX2 = 2 * x * x;
        double term = x, sum = x;
        for (int n = 1; Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
        {
            term *= twoX2 / ((2 * n) + 1);
            sum += term;
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * sum;
    }

    public static double Dot(Tensor a, Tensor b)
    {
        var x = a.AsSpan();
        var y = b.AsSpan();
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (double)x[i] * y[i];
        return sum;
    }
}

/// <summary>
/// Central finite differences against an analytic gradient. The loss is L = Σ output ⊙ R for a fixed random R, so
/// the analytic gradient is the backward with outputGrad = R. Every element of the input is perturbed.
/// </summary>
internal static class GradientCheck
{
    // h = 1e-2: truncation error ~h²·f''' ≈ 1e-5 for these smooth O(1) functions; float rounding of L (|L| ≲ 10)
    // divided by 2h stays below ~1e-4. A wrong backward term is off by O(|gradient|), far above the tolerance.
    public const float Step = 1e-2f;
    public const double AbsoluteTolerance = 2e-3;
    public const double RelativeTolerance = 1e-2;

    public static void Check(string name, Tensor input, Tensor analyticGradient, Func<double> loss)
    {
        var x = input.AsSpan();
        var g = analyticGradient.AsSpan();
        Assert.Equal(x.Length, g.Length);
        double maxError = 0, maxGradient = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float saved = x[i];
            x[i] = saved + Step;
            double plus = loss();
            x[i] = saved - Step;
            double minus = loss();
            x[i] = saved;
            double numeric = (plus - minus) / (2.0 * Step);
            double error = Math.Abs(numeric - g[i]);
            maxError = Math.Max(maxError, error);
            maxGradient = Math.Max(maxGradient, Math.Abs(numeric));
            Assert.True(error <= AbsoluteTolerance + (RelativeTolerance * Math.Abs(numeric)),
                $"{name}[{i}]: analytic {g[i]} vs numeric {numeric} (error {error})");
        }
        // A gradient that is zero everywhere would pass trivially: the checks above only mean something if it is not.
        Assert.True(maxGradient > 20 * AbsoluteTolerance, $"{name}: gradient too small ({maxGradient}) for the check to be meaningful");
    }
}
