using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmForge.Tensors.Cpu;

/// <summary>Small vector building blocks shared by the kernels. Each has an AVX2/FMA path and a scalar path.</summary>
internal static unsafe class VectorMath
{
    public static bool IsAccelerated => Vector256.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : (a * b) + c;

    /// <summary>Σ a[i]·b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0f;
        if (IsAccelerated && n >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                acc0 = MultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
                acc1 = MultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), acc1);
            }
            if (i <= n - 8)
            {
                acc0 = MultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
                i += 8;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y[i] += alpha·x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAddTo(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        if (IsAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.Store(MultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    /// <summary>y[i] *= alpha.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleInPlace(float* y, float alpha, int n)
    {
        int i = 0;
        if (IsAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(y + i) * va, y + i);
        }
        for (; i < n; i++) y[i] *= alpha;
    }

    /// <summary>y[i] += x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddTo(float* x, float* y, int n)
    {
        int i = 0;
        if (IsAccelerated)
        {
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(x + i) + Vector256.Load(y + i), y + i);
        }
        for (; i < n; i++) y[i] += x[i];
    }

    /// <summary>Σ x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float* x, int n)
    {
        int i = 0;
        float sum = 0f;
        if (IsAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.Load(x + i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>max x[i], for n ≥ 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float* x, int n)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (IsAccelerated && n >= 8)
        {
            var acc = Vector256.Create(float.NegativeInfinity);
            for (; i <= n - 8; i += 8) acc = Vector256.MaxNative(acc, Vector256.Load(x + i)); // vmaxps; a NaN still poisons the sum that follows
            for (int lane = 0; lane < 8; lane++) max = MathF.Max(max, acc.GetElement(lane));
        }
        for (; i < n; i++) max = MathF.Max(max, x[i]);
        return max;
    }

    /// <summary>Σ exp(x[i] − shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumExp(float* x, float shift, int n)
    {
        int i = 0;
        float sum = 0f;
        if (IsAccelerated && n >= 8)
        {
            var vs = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.Exp(Vector256.Load(x + i) - vs);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += MathF.Exp(x[i] - shift);
        return sum;
    }

    /// <summary>y[i] = exp(x[i] − shift)·scale; y may be x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ExpScale(float* x, float shift, float scale, float* y, int n)
    {
        int i = 0;
        if (IsAccelerated)
        {
            var vs = Vector256.Create(shift);
            var vc = Vector256.Create(scale);
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Exp(Vector256.Load(x + i) - vs) * vc, y + i);
        }
        for (; i < n; i++) y[i] = MathF.Exp(x[i] - shift) * scale;
    }
}
