using System.Runtime.Intrinsics;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Cpu.Kernels;

namespace LmForge.Tensors.Tests;

/// <summary>
/// Activations and gated activations against double-precision definitions, their backwards against finite differences,
/// and the float erf behind exact GELU against a double erf computed here from its series.
/// </summary>
public sealed class ActivationTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    // f(x) in double, from the definitions (erf from TestData's series, not from the kernel).
    private static double Reference(Activation activation, double x) => activation switch
    {
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x)))),
        Activation.GeluExact => 0.5 * x * (1 + TestData.Erf(x / Math.Sqrt(2))),
        Activation.Relu => Math.Max(0, x),
        Activation.Silu => x / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    public static TheoryData<Activation> All => [Activation.GeluTanh, Activation.GeluExact, Activation.Relu, Activation.Silu];

    // Inputs with the vector body and a scalar tail, large magnitudes where exp and erf saturate, and zero.
    private static Tensor Inputs(Random random, params int[] shape)
    {
        var input = TestData.Random(random, 6f, shape);
        var x = input.AsSpan();
        x[0] = 60f;
        x[1] = -60f;
        x[2] = 0f;
        x[3] = 1e-20f;
        x[4] = -12f;
        return input;
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Linear_with_the_activation_in_its_output_stage_equals_the_two_calls(Activation activation)
    {
        // Row counts through the few-rows path (3, 37) and the packed one (70, 150: more than one row block), widths that
        // leave partial tiles and vector tails, a depth across several depth blocks (300: the activation only after the
        // last), with and without bias; the fused call keeps the pre-activation output as the unfused one does.
        var random = TestData.NewRandom();
        foreach (var (rows, inputs, outputs) in new[] { (3, 20, 33), (37, 300, 45), (70, 70, 131), (150, 300, 45) })
        {
            foreach (bool withBias in new[] { true, false })
            {
                using var input = TestData.Random(random, 1f, rows, inputs);
                using var weight = TestData.Random(random, 0.3f, outputs, inputs);
                using var bias = withBias ? TestData.Random(random, 1f, outputs) : null;
                using var expectedHidden = Tensor.Allocate(rows, outputs);
                using var expectedActivated = Tensor.Allocate(rows, outputs);
                using var hidden = Tensor.Allocate(rows, outputs);
                using var activated = Tensor.Allocate(rows, outputs);
                _backend.LinearForward(expectedHidden, input, weight, bias);
                _backend.ActivationForward(expectedActivated, expectedHidden, activation);
                activated.AsSpan().Fill(float.NaN);
                _backend.LinearActivationForward(hidden, activated, input, weight, bias, activation);
                Assert.Equal(expectedHidden.ToArray(), hidden.ToArray());
                float[] want = expectedActivated.ToArray(), got = activated.ToArray();
                for (int i = 0; i < want.Length; i++)
                {
                    Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6f * (1 + Math.Abs(want[i])),
                        $"{activation} {rows}x{inputs}->{outputs} bias {withBias}: activated[{i}] is {got[i]}, expected {want[i]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Activation_forward_matches_definition(Activation activation)
    {
        var random = TestData.NewRandom();
        using var input = Inputs(random, 3, 37);
        using var output = Tensor.Allocate(3, 37);
        _backend.ActivationForward(output, input, activation);
        for (int i = 0; i < input.Length; i++)
        {
            double expected = Reference(activation, input.AsSpan()[i]);
            Assert.True(Math.Abs(expected - output.AsSpan()[i]) <= 2e-6 * Math.Max(1, Math.Abs(expected)),
                $"{activation}({input.AsSpan()[i]}) = {output.AsSpan()[i]}, expected {expected}");
        }
    }

    [Fact]
    public void Exact_and_tanh_gelu_differ_where_the_approximation_does()
    {
        // Around x = 2.7 the tanh approximation is off by about 4.7e-4: the two enum values must not share a kernel.
        using var input = Tensor.Allocate(8);
        input.AsSpan().Fill(2.7f);
        using var exact = Tensor.Allocate(8);
        using var tanh = Tensor.Allocate(8);
        _backend.ActivationForward(exact, input, Activation.GeluExact);
        _backend.ActivationForward(tanh, input, Activation.GeluTanh);
        double x = 2.7f;
        Assert.Equal(x * 0.5 * (1 + TestData.Erf(x / Math.Sqrt(2))), exact.AsSpan()[0], 1e-6);
        Assert.True(Math.Abs(exact.AsSpan()[0] - tanh.AsSpan()[0]) > 4e-4);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Activation_gradient_matches_finite_differences(Activation activation)
    {
        var random = TestData.NewRandom();
        using var input = TestData.Random(random, 4f, 3, 37);
        AwayFromKink(input);
        using var output = Tensor.Allocate(3, 37);
        using var r = TestData.Random(random, 1f, 3, 37);
        using var dinput = TestData.Random(random, 9f, 3, 37); // garbage: overwritten
        _backend.ActivationBackward(dinput, input, r, activation);
        GradientCheck.Check("dinput", input, dinput, () =>
        {
            _backend.ActivationForward(output, input, activation);
            return TestData.Dot(output, r);
        });

        // in place (inputGrad aliases outputGrad) gives the same numbers
        using var inPlace = Tensor.Allocate(3, 37);
        inPlace.CopyFrom(r.AsSpan());
        _backend.ActivationBackward(inPlace, input, inPlace, activation);
        Assert.Equal(dinput.ToArray(), inPlace.ToArray());
    }

    [Fact]
    public void Activation_gradients_saturate_without_nan()
    {
        using var input = Tensor.Allocate(16);
        float[] values = [60f, -60f, 100f, -100f, 1e-30f, 0f, 30f, -30f, 89f, -89f, 1e4f, -1e4f, 15f, -15f, 5f, -5f];
        input.CopyFrom(values);
        using var ones = Tensor.Allocate(16);
        ones.AsSpan().Fill(1f);
        using var grad = Tensor.Allocate(16);
        foreach (var activation in new[] { Activation.GeluTanh, Activation.GeluExact, Activation.Relu, Activation.Silu })
        {
            _backend.ActivationBackward(grad, input, ones, activation);
            for (int i = 0; i < values.Length; i++)
            {
                Assert.True(float.IsFinite(grad.AsSpan()[i]), $"{activation}'({values[i]}) = {grad.AsSpan()[i]}");
                if (Math.Abs(values[i]) >= 30) Assert.Equal(values[i] > 0 ? 1f : 0f, grad.AsSpan()[i], 1e-6f);
            }
        }
    }

    [Theory]
    [InlineData(Activation.Silu, 21)]      // SwiGLU (Llama), vector body and tail
    [InlineData(Activation.GeluTanh, 16)]  // GeGLU, vector only
    [InlineData(Activation.GeluExact, 5)]  // GeGLU, tail only
    [InlineData(Activation.Relu, 11)]
    public void Gated_activation_forward_matches_definition(Activation activation, int width)
    {
        var random = TestData.NewRandom();
        const int rows = 4;
        using var gateUp = Inputs(random, rows, 2 * width);
        using var output = TestData.Random(random, 9f, rows, width);
        _backend.GatedActivationForward(output, gateUp, activation);
        var gu = gateUp.AsSpan();
        for (int row = 0; row < rows; row++)
        {
            for (int i = 0; i < width; i++)
            {
                double expected = Reference(activation, gu[(row * 2 * width) + i]) * gu[(row * 2 * width) + width + i];
                Assert.True(Math.Abs(expected - output.AsSpan()[(row * width) + i]) <= 2e-6 * Math.Max(1, Math.Abs(expected)),
                    $"{activation} row {row} column {i}: {output.AsSpan()[(row * width) + i]}, expected {expected}");
            }
        }
    }

    [Theory]
    [InlineData(Activation.Silu, 21)]
    [InlineData(Activation.GeluTanh, 16)]
    [InlineData(Activation.GeluExact, 13)]
    [InlineData(Activation.Relu, 11)]
    public void Gated_activation_gradient_matches_finite_differences(Activation activation, int width)
    {
        var random = TestData.NewRandom();
        const int rows = 3;
        using var gateUp = TestData.Random(random, 3f, rows, 2 * width);
        AwayFromKink(gateUp);
        using var output = Tensor.Allocate(rows, width);
        using var r = TestData.Random(random, 1f, rows, width);
        using var dgateUp = TestData.Random(random, 9f, rows, 2 * width); // garbage: overwritten
        _backend.GatedActivationBackward(dgateUp, gateUp, r, activation);
        GradientCheck.Check("dgateUp", gateUp, dgateUp, () =>
        {
            _backend.GatedActivationForward(output, gateUp, activation);
            return TestData.Dot(output, r);
        });
    }

    [Fact]
    public void Gated_activation_takes_leading_dimensions()
    {
        var random = TestData.NewRandom();
        using var gateUp = TestData.Random(random, 2f, 2, 3, 2 * 12);
        using var flat = Tensor.Allocate(6, 12);
        using var shaped = Tensor.Allocate(2, 3, 12);
        _backend.GatedActivationForward(flat, gateUp, Activation.Silu);
        _backend.GatedActivationForward(shaped, gateUp, Activation.Silu);
        Assert.Equal(flat.ToArray(), shaped.ToArray());
    }

    // ReLU's kink at 0 (and GELU's curvature there) would make a central difference of step h straddle two slopes.
    private static void AwayFromKink(Tensor values)
    {
        var x = values.AsSpan();
        for (int i = 0; i < x.Length; i++)
        {
            if (MathF.Abs(x[i]) < 0.1f) x[i] = x[i] < 0 ? -0.1f - x[i] : 0.1f + x[i];
        }
    }

    [Fact]
    public void Double_erf_reference_matches_published_values()
    {
        // Abramowitz & Stegun table 7.1 / any CAS: the reference itself has to be right before it can judge the kernel.
        Assert.Equal(0.5204998778130465, TestData.Erf(0.5), 1e-15);
        Assert.Equal(0.8427007929497149, TestData.Erf(1.0), 1e-15);
        Assert.Equal(0.9953222650189527, TestData.Erf(2.0), 1e-15);
        Assert.Equal(0.9999779095030014, TestData.Erf(3.0), 1e-15);
        Assert.Equal(-0.1124629160182849, TestData.Erf(-0.1), 1e-15);
        Assert.Equal(1.1283791670955126e-10, TestData.Erf(1e-10), 1e-24);
    }

    [Fact]
    public void Erf_is_within_1e7_relative_of_the_double_erf()
    {
        // A grid of step 1e-5 over [−7, 7], the floats around the branch point, tiny and huge values. The polynomials are
        // within 3.3e-8 of erf; float rounding of the steps and of the result adds to that (worst seen: 8.7e-8 with FMA,
        // 9.5e-8 for the vector path without it).
        var points = new List<float>();
        for (int i = -700_000; i <= 700_000; i++) points.Add(i * 1e-5f);
        float split = 0.927734375f;
        for (int k = -8; k <= 8; k++)
        {
            points.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(split) + k));
            points.Add(-BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(split) + k));
        }
        points.AddRange([1e-38f, 1e-30f, 1e-10f, 3e-5f, -3e-5f, 9f, -9f, 100f, -100f, float.MaxValue, float.MinValue]);
        while (points.Count % 8 != 0) points.Add(0.5f);

        double worstScalar = 0, worstVector = 0;
        for (int i = 0; i < points.Count; i += 8)
        {
            var vector = Vector256.Create(points.GetRange(i, 8).ToArray());
            var vectorErf = Erf.Evaluate(vector);
            for (int lane = 0; lane < 8; lane++)
            {
                float x = points[i + lane];
                double expected = TestData.Erf(x);
                worstScalar = Math.Max(worstScalar, Math.Abs(Erf.Evaluate(x) - expected) / Math.Abs(expected == 0 ? 1 : expected));
                worstVector = Math.Max(worstVector, Math.Abs(vectorErf.GetElement(lane) - expected) / Math.Abs(expected == 0 ? 1 : expected));
            }
        }
        Assert.True(worstScalar < 1e-7, $"scalar erf: worst relative error {worstScalar}");
        Assert.True(worstVector < 1e-7, $"vector erf: worst relative error {worstVector}");

        Assert.Equal(1f, Erf.Evaluate(float.PositiveInfinity));
        Assert.Equal(-1f, Erf.Evaluate(float.NegativeInfinity));
        Assert.True(float.IsNaN(Erf.Evaluate(float.NaN)));
        Assert.Equal(0f, Erf.Evaluate(0f));
    }
}
