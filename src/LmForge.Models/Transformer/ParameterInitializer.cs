using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>
/// GPT-2's initialization, used by every family: matrices ~ N(0, 0.02), the projections into the residual stream
/// ~ N(0, 0.02/√(2·layers)), biases 0, norm gains 1, padded vocabulary rows 0. Deterministic for a seed.
/// </summary>
internal static class ParameterInitializer
{
    public static void Initialize(IBackend backend, IReadOnlyList<ModelParameter> layout, Func<string, Tensor> parameter, int layerCount, int seed)
    {
        var random = new Random(seed);
        float residualStd = 0.02f / MathF.Sqrt(2f * layerCount);
        float[] staging = [];
        foreach (var p in layout)
        {
            if (staging.Length < p.Length) staging = new float[p.Length];
            var values = staging.AsSpan(0, (int)p.Length);
            int real = (int)(p.Length / p.Shape[0] * p.RealRows);
            switch (p.Init)
            {
                case ParameterInit.Ones: values.Fill(1f); break;
                case ParameterInit.Zeros: values.Clear(); break;
                default:
                    FillNormal(random, values[..real], p.Init == ParameterInit.ResidualNormal ? residualStd : 0.02f);
                    values[real..].Clear();
                    break;
            }
            backend.CopyFromHost(parameter(p.Name), values);
        }
    }

    private static void FillNormal(Random random, Span<float> values, float std)
    {
        // Box–Muller, two values per pair of uniforms
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double radius = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            values[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < values.Length) values[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
    }
}
