using LmForge.Models.Transformer;
using LmForge.Models.Transformer.Modules;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Models.Tests;

/// <summary>
/// The cross-attention module (the encoder-decoder's decoder reading the encoder) against central finite differences:
/// the gradients of Σ output·R with respect to the decoder stream, the encoder memory and every parameter, with
/// grouped-query heads and a key padding mask that hides the end of one memory sequence.
/// </summary>
public sealed class CrossAttentionModuleTests
{
    [Fact]
    public void Gradients_of_input_memory_and_parameters_match_finite_differences()
    {
        var config = TransformerConfig.Llama(vocabSize: 10, contextLength: 8, layerCount: 1, headCount: 4, keyValueHeadCount: 2, width: 12, intermediateSize: 8)
            with { AttentionBias = true };
        IBackend backend = CpuBackend.Shared;
        var builder = new ParameterLayoutBuilder();
        var module = new CrossAttention(builder, config, "q", "kv", "o");
        var layout = builder.Build();
        long count = layout.Sum(p => p.Length);
        using var parameters = backend.Allocate(new TensorShape((int)count));
        using var gradients = backend.Allocate(new TensorShape((int)count));
        module.Bind(new ParameterViews(layout, parameters, gradients));

        const int b = 2, tq = 5, tk = 7, c = 12;
        var random = new Random(20230828);
        void Fill(Tensor t, float scale) { foreach (ref float v in t.AsSpan()) v = (float)(random.NextDouble() * 2 - 1) * scale; }
        Fill(parameters, 0.5f);
        using var allocate = new ActivationAllocator(backend);
        var x = allocate.Float(b, tq, c);
        var memory = allocate.Float(b, tk, c);
        var r = allocate.Float(b, tq, c);
        Fill(x, 1f);
        Fill(memory, 1f);
        Fill(r, 1f);
        var mask = allocate.Int32(b, tk);
        backend.CopyFromHost(mask, [1, 1, 1, 1, 1, 1, 1, /* second sequence: 2 padding keys */ 1, 1, 1, 1, 1, 0, 0]);
        var acts = module.Plan(allocate, b, tq, tk);
        var output = allocate.Float(b, tq, c);

        double Loss()
        {
            module.Forward(backend, output, x, memory, mask, acts);
            double sum = 0;
            var o = output.AsSpan();
            var w = r.AsSpan();
            for (int i = 0; i < o.Length; i++) sum += (double)o[i] * w[i];
            return sum;
        }
        Loss();
        var inputGrad = allocate.Float(b, tq, c);
        var memoryGrad = allocate.Float(b, tk, c);
        module.Backward(backend, inputGrad, memoryGrad, r, x, memory, mask, acts,
            allocate.Float(b, tq, 4 * 3), allocate.Float(b, tq, 4 * 3), allocate.Float(b, tk, 2 * 2 * 3));

        Check("input", x, inputGrad.ToArray(), Loss);
        Check("memory", memory, memoryGrad.ToArray(), Loss);
        Check("parameters", parameters, gradients.ToArray(), Loss);
        // the padded keys of the second sequence receive no gradient at all
        Assert.All(memoryGrad.AsSpan().Slice(((1 * tk) + 5) * c, 2 * c).ToArray(), g => Assert.Equal(0f, g));
    }

    private static void Check(string name, Tensor values, float[] analytic, Func<double> loss)
    {
        var span = values.AsSpan();
        double scale = analytic.Max(v => Math.Abs((double)v));
        Assert.True(scale > 0, $"{name}: no gradient");
        for (int i = 0; i < span.Length; i++)
        {
            float original = span[i];
            const float h = 1e-2f;
            span[i] = original + h;
            double plus = loss();
            span[i] = original - h;
            double minus = loss();
            span[i] = original;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) <= (1e-2 * Math.Abs(analytic[i])) + (1e-3 * scale),
                $"{name}[{i}]: backward {analytic[i]:E4}, finite difference {numeric:E4}");
        }
    }
}
