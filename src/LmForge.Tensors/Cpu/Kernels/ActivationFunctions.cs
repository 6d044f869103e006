using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// One nonlinearity f for the activation kernels, at scalar and AVX2 widths (TensorPrimitives' operator pattern):
/// the kernels are generic over these structs, so each gets its own inlined loop.
/// </summary>
internal interface IActivationFunction
{
    static abstract float Value(float x);

    static abstract Vector256<float> Value(Vector256<float> x);

    /// <summary>f'(x), with f(x) as a by-product (the gated backward needs both).</summary>
    static abstract float Derivative(float x, out float value);

    static abstract Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value);
}

/// <summary>GPT-2's GELU, tanh approximation: f = ½·x·(1 + tanh u), u = √(2/π)·(x + 0.044715·x³).</summary>
internal readonly struct GeluTanhFunction : IActivationFunction
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float Cubic = 0.044715f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float x)
    {
        float u = Sqrt2OverPi * (x + (Cubic * x * x * x));
        return 0.5f * x * (1f + MathF.Tanh(u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Value(Vector256<float> x)
    {
        var u = VectorMath.MultiplyAdd(Vector256.Create(Sqrt2OverPi * Cubic) * x * x, x, Vector256.Create(Sqrt2OverPi) * x);
        return Vector256.Create(0.5f) * x * (Vector256<float>.One + Tanh(u));
    }

    // f' = ½(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float x, out float value)
    {
        float th = MathF.Tanh(Sqrt2OverPi * (x + (Cubic * x * x * x)));
        float du = Sqrt2OverPi * (1f + (3f * Cubic * x * x));
        value = 0.5f * x * (1f + th);
        return 0.5f * (1f + th + (x * (1f - (th * th)) * du));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value)
    {
        var one = Vector256<float>.One;
        var half = Vector256.Create(0.5f);
        var x2 = x * x;
        var th = Tanh(VectorMath.MultiplyAdd(Vector256.Create(Sqrt2OverPi * Cubic) * x2, x, Vector256.Create(Sqrt2OverPi) * x));
        var du = VectorMath.MultiplyAdd(Vector256.Create(3f * Sqrt2OverPi * Cubic), x2, Vector256.Create(Sqrt2OverPi));
        value = half * x * (one + th);
        return half * (one + th + (x * (one - (th * th)) * du));
    }

    // tanh(u) = 1 − 2/(exp(2u) + 1): exp overflowing to +inf gives 1, underflowing to 0 gives −1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tanh(Vector256<float> u) =>
        Vector256<float>.One - (Vector256.Create(2f) / (Vector256.Exp(u + u) + Vector256<float>.One));
}

/// <summary>GELU with the normal CDF: f = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); f' = Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π).</summary>
internal readonly struct GeluExactFunction : IActivationFunction
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float x) => x * 0.5f * (1f + Erf.Evaluate(x * InvSqrt2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Value(Vector256<float> x) =>
        x * Vector256.Create(0.5f) * (Vector256<float>.One + Erf.Evaluate(x * Vector256.Create(InvSqrt2)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float x, out float value)
    {
        float cdf = 0.5f * (1f + Erf.Evaluate(x * InvSqrt2));
        value = x * cdf;
        return cdf + (x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value)
    {
        var cdf = Vector256.Create(0.5f) * (Vector256<float>.One + Erf.Evaluate(x * Vector256.Create(InvSqrt2)));
        value = x * cdf;
        var pdf = Vector256.Create(InvSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5f) * x * x);
        return VectorMath.MultiplyAdd(x, pdf, cdf);
    }
}

/// <summary>ReLU: f = max(0, x) (NaN passes through); f' = 1 for x &gt; 0, else 0 (torch's choice at 0).</summary>
internal readonly struct ReluFunction : IActivationFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float x) => x < 0f ? 0f : x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Value(Vector256<float> x) =>
        Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256<float>.Zero, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float x, out float value)
    {
        value = Value(x);
        return x > 0f ? 1f : 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value)
    {
        value = Value(x);
        return Vector256<float>.One & Vector256.GreaterThan(x, Vector256<float>.Zero);
    }
}

/// <summary>SiLU (swish): f = x·σ(x), σ(x) = 1/(1 + exp(−x)); f' = σ(x)·(1 + x·(1 − σ(x))).</summary>
internal readonly struct SiluFunction : IActivationFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float x) => x / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Value(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float x, out float value)
    {
        float sigmoid = 1f / (1f + MathF.Exp(-x));
        value = x * sigmoid;
        return sigmoid * (1f + (x * (1f - sigmoid)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value)
    {
        var one = Vector256<float>.One;
        var sigmoid = one / (one + Vector256.Exp(-x));
        value = x * sigmoid;
        return sigmoid * VectorMath.MultiplyAdd(x, one - sigmoid, one);
    }
}

/// <summary>
/// erf in float32 (Norbert Juffa's erff, max error about 1 ulp): for |x| ≤ 0.927734375 an odd polynomial
/// x + x·p(x²); above, 1 − exp(q(|x|)) with the sign of x. The vector path evaluates both and selects per lane.
/// The polynomials alone are within 3.3e-8 relative of erf; in float the result is within 1e-7 relative (tested
/// against a double erf on a 1e-5 grid over [−7, 7]).
/// </summary>
internal static class Erf
{
    private const float Split = 0.927734375f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Evaluate(float a)
    {
        float t = MathF.Abs(a);
        float s = a * a;
        if (t > Split)
        {
            float r = MathF.FusedMultiplyAdd(-1.72853470e-5f, t, 3.83197126e-4f);
            float u = MathF.FusedMultiplyAdd(-3.88396438e-3f, t, 2.42546219e-2f);
            r = MathF.FusedMultiplyAdd(r, s, u);
            r = MathF.FusedMultiplyAdd(r, t, -1.06777877e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -6.34846687e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -1.28717512e-1f);
            r = MathF.FusedMultiplyAdd(r, t, -t);
            return MathF.CopySign(1f - MathF.Exp(r), a);
        }
        float p = -5.96761703e-4f;
        p = MathF.FusedMultiplyAdd(p, s, 4.99119423e-3f);
        p = MathF.FusedMultiplyAdd(p, s, -2.67681349e-2f);
        p = MathF.FusedMultiplyAdd(p, s, 1.12819925e-1f);
        p = MathF.FusedMultiplyAdd(p, s, -3.76125336e-1f);
        p = MathF.FusedMultiplyAdd(p, s, 1.28379166e-1f);
        return MathF.FusedMultiplyAdd(p, a, a);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Evaluate(Vector256<float> a)
    {
        var t = Vector256.Abs(a);
        var s = a * a;

        var r = VectorMath.MultiplyAdd(Vector256.Create(-1.72853470e-5f), t, Vector256.Create(3.83197126e-4f));
        var u = VectorMath.MultiplyAdd(Vector256.Create(-3.88396438e-3f), t, Vector256.Create(2.42546219e-2f));
        r = VectorMath.MultiplyAdd(r, s, u);
        r = VectorMath.MultiplyAdd(r, t, Vector256.Create(-1.06777877e-1f));
        r = VectorMath.MultiplyAdd(r, t, Vector256.Create(-6.34846687e-1f));
        r = VectorMath.MultiplyAdd(r, t, Vector256.Create(-1.28717512e-1f));
        r = VectorMath.MultiplyAdd(r, t, -t);
        var large = Vector256.CopySign(Vector256<float>.One - Vector256.Exp(r), a);

        var p = Vector256.Create(-5.96761703e-4f);
        p = VectorMath.MultiplyAdd(p, s, Vector256.Create(4.99119423e-3f));
        p = VectorMath.MultiplyAdd(p, s, Vector256.Create(-2.67681349e-2f));
        p = VectorMath.MultiplyAdd(p, s, Vector256.Create(1.12819925e-1f));
        p = VectorMath.MultiplyAdd(p, s, Vector256.Create(-3.76125336e-1f));
        p = VectorMath.MultiplyAdd(p, s, Vector256.Create(1.28379166e-1f));
        var small = VectorMath.MultiplyAdd(p, a, a);

        return Vector256.ConditionalSelect(Vector256.GreaterThan(t, Vector256.Create(Split)), large, small);
    }
}
