using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// The row operations layer norm and RMS norm share, with norm = (x − m)·s (RMS norm: m = 0, so norm = x·s exactly).
/// Each runs at the widest vector width the machine has (<see cref="IFloatLanes{TVector}"/>), lets the 256-bit body
/// take a remaining 8 floats, and finishes in scalar code.
/// </summary>
internal static unsafe class NormalizedRows
{
    /// <summary>Σ (x[i] − m)².</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SquaredDeviations(float* x, float m, int n)
    {
        int i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated) sum += SquaredDeviations<Float512, Vector512<float>>(x, m, n, ref i);
        if (VectorMath.IsAccelerated) sum += SquaredDeviations<Float256, Vector256<float>>(x, m, n, ref i);
        for (; i < n; i++) sum += (x[i] - m) * (x[i] - m);
        return sum;
    }

    /// <summary>y = norm·w + b (b may be null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Normalize(float* x, float m, float s, float* w, float* b, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) Normalize<Float512, Vector512<float>>(x, m, s, w, b, y, n, ref i);
        if (VectorMath.IsAccelerated) Normalize<Float256, Vector256<float>>(x, m, s, w, b, y, n, ref i);
        for (; i < n; i++) y[i] = ((x[i] - m) * s * w[i]) + (b == null ? 0f : b[i]);
    }

    /// <summary>(Σ w·dy, Σ w·dy·norm): the two means of the input gradient, times n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Dnorm, float DnormNorm) GradientSums(float* x, float* dy, float* w, float m, float s, int n)
    {
        int i = 0;
        float dnorm = 0f, dnormCentered = 0f;
        if (Vector512.IsHardwareAccelerated) GradientSums<Float512, Vector512<float>>(x, dy, w, m, n, ref i, ref dnorm, ref dnormCentered);
        if (VectorMath.IsAccelerated) GradientSums<Float256, Vector256<float>>(x, dy, w, m, n, ref i, ref dnorm, ref dnormCentered);
        for (; i < n; i++)
        {
            float d = w[i] * dy[i];
            dnorm += d;
            dnormCentered += d * (x[i] - m);
        }
        return (dnorm, dnormCentered * s);
    }

    /// <summary>dx += (w·dy − dnormMean − norm·dnormNormMean)·s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddInputGradient(float* x, float* dy, float* w, float m, float s, float dnormMean, float dnormNormMean, float* dx, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) AddInputGradient<Float512, Vector512<float>>(x, dy, w, m, s, dnormMean, dnormNormMean, dx, n, ref i);
        if (VectorMath.IsAccelerated) AddInputGradient<Float256, Vector256<float>>(x, dy, w, m, s, dnormMean, dnormNormMean, dx, n, ref i);
        for (; i < n; i++)
        {
            float norm = (x[i] - m) * s;
            dx[i] += ((w[i] * dy[i]) - dnormMean - (norm * dnormNormMean)) * s;
        }
    }

    /// <summary>dw += dy·norm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddWeightGradient(float* x, float* dy, float m, float s, float* dw, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) AddWeightGradient<Float512, Vector512<float>>(x, dy, m, s, dw, n, ref i);
        if (VectorMath.IsAccelerated) AddWeightGradient<Float256, Vector256<float>>(x, dy, m, s, dw, n, ref i);
        for (; i < n; i++) dw[i] += dy[i] * (x[i] - m) * s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SquaredDeviations<TLanes, TVector>(float* x, float m, int n, ref int i)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        if (n - i < TLanes.Count) return 0f;
        var vm = TLanes.Create(m);
        var acc = TLanes.Zero;
        for (; i <= n - TLanes.Count; i += TLanes.Count)
        {
            var d = TLanes.Subtract(TLanes.Load(x + i), vm);
            acc = TLanes.MultiplyAdd(d, d, acc);
        }
        return TLanes.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize<TLanes, TVector>(float* x, float m, float s, float* w, float* b, float* y, int n, ref int i)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        var vm = TLanes.Create(m);
        var vs = TLanes.Create(s);
        for (; i <= n - TLanes.Count; i += TLanes.Count)
        {
            var norm = TLanes.Multiply(TLanes.Subtract(TLanes.Load(x + i), vm), vs);
            TLanes.Store(b != null ? TLanes.MultiplyAdd(norm, TLanes.Load(w + i), TLanes.Load(b + i)) : TLanes.Multiply(norm, TLanes.Load(w + i)), y + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientSums<TLanes, TVector>(float* x, float* dy, float* w, float m, int n, ref int i, ref float dnorm,
        ref float dnormCentered)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        if (n - i < TLanes.Count) return;
        var vm = TLanes.Create(m);
        var sumDnorm = TLanes.Zero;
        var sumDnormCentered = TLanes.Zero;
        for (; i <= n - TLanes.Count; i += TLanes.Count)
        {
            var d = TLanes.Multiply(TLanes.Load(w + i), TLanes.Load(dy + i));
            sumDnorm = TLanes.Add(sumDnorm, d);
            sumDnormCentered = TLanes.MultiplyAdd(d, TLanes.Subtract(TLanes.Load(x + i), vm), sumDnormCentered);
        }
        dnorm += TLanes.Sum(sumDnorm);
        dnormCentered += TLanes.Sum(sumDnormCentered);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddInputGradient<TLanes, TVector>(float* x, float* dy, float* w, float m, float s, float dnormMean, float dnormNormMean,
        float* dx, int n, ref int i)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        var vm = TLanes.Create(m);
        var vs = TLanes.Create(s);
        var vdm = TLanes.Create(dnormMean);
        var vdnm = TLanes.Create(dnormNormMean);
        for (; i <= n - TLanes.Count; i += TLanes.Count)
        {
            var norm = TLanes.Multiply(TLanes.Subtract(TLanes.Load(x + i), vm), vs);
            var dnorm = TLanes.Multiply(TLanes.Load(w + i), TLanes.Load(dy + i));
            var grad = TLanes.Subtract(TLanes.Subtract(dnorm, vdm), TLanes.Multiply(norm, vdnm));
            TLanes.Store(TLanes.MultiplyAdd(grad, vs, TLanes.Load(dx + i)), dx + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddWeightGradient<TLanes, TVector>(float* x, float* dy, float m, float s, float* dw, int n, ref int i)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        var vm = TLanes.Create(m);
        var vs = TLanes.Create(s);
        for (; i <= n - TLanes.Count; i += TLanes.Count)
        {
            var norm = TLanes.Multiply(TLanes.Subtract(TLanes.Load(x + i), vm), vs);
            TLanes.Store(TLanes.MultiplyAdd(TLanes.Load(dy + i), norm, TLanes.Load(dw + i)), dw + i);
        }
    }
}
