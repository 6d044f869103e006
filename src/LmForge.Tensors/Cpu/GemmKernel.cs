using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// The register-blocked inner part of Gemm: block sizes and the Mr×Nr micro-kernel that multiplies one packed
/// A panel (kc×Mr) by one packed B panel (kc×Nr) into a tile of C.
/// </summary>
internal static unsafe class GemmKernel
{
    // The tile is Mr×Nr: 6×32 with AVX-512 (12 zmm accumulators + 2 B vectors + 1 broadcast A value; twice the
    // columns of the AVX2 tile for the same number of loads), 6×16 with AVX2/FMA (12 ymm accumulators + 2 + 1 = 15 of
    // the 16 registers) and for the scalar fallback. Chosen once at start-up from what the machine runs, never from
    // the machine the code was built on: DOTNET_EnableAVX512=0 or DOTNET_EnableAVX2=0 select the narrower tiles.
    // (Static fields initialize in textual order: these two come first, the sizes below depend on them.)
    public static readonly bool UsesFma = Fma.IsSupported && Avx2.IsSupported;
    public static readonly bool UsesAvx512 = UsesFma && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    public const int Mr = 6;
    public static readonly int Nr = UsesAvx512 ? 32 : 16;

    // Kc·Nr floats of B (16 KiB at either width) plus Kc·Mr of A stay in L1d across one micro-kernel call;
    // the Mc×Kc A block (144 KiB with AVX2, 72 KiB with AVX-512) stays in L2; the Kc×Nc B block (3 MiB) lives in L3.
    public static readonly int Kc = UsesAvx512 ? 128 : 256;
    public const int Mc = 144;
    public static readonly int Nc = UsesAvx512 ? 6144 : 3072;

    /// <summary>The micro-kernel in use, for benchmark headers and tests: "AVX-512", "AVX2/FMA" or "scalar".</summary>
    public static string InstructionSet => UsesAvx512 ? "AVX-512" : UsesFma ? "AVX2/FMA" : "scalar";

    // C[mc,nc] (leading dimension ldc) = (loadC ? C : 0) + packedA·packedB (+ bias[nc] when not null); with activated
    // not null, also activated[mc,nc] (the same leading dimension) = activation(C), tile by tile.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyBlock(
        int mc, int nc, int kc, float* packedA, float* packedB, float* c, int ldc, bool loadC, float* bias,
        float* activated = null, Activation activation = default)
    {
        float* edgeTile = stackalloc float[Mr * Nr];
        for (int jr = 0; jr < nc; jr += Nr)
        {
            int nr = Math.Min(Nr, nc - jr);
            float* panelB = packedB + (long)jr * kc;
            float* biasTile = bias == null ? null : bias + jr;
            for (int ir = 0; ir < mc; ir += Mr)
            {
                int mr = Math.Min(Mr, mc - ir);
                float* panelA = packedA + (long)ir * kc;
                float* cTile = c + (long)ir * ldc + jr;
                MultiplyTile(mr, nr, kc, panelA, panelB, cTile, ldc, loadC, biasTile, edgeTile);
                if (activated != null)
                {
                    Kernels.ActivationKernel.ForwardTile(activation, cTile, activated + (long)ir * ldc + jr, ldc, mr, nr);
                }
            }
        }
    }

    /// <summary>
    /// One tile of C, rows [0, mr) and columns [0, nr) (mr ≤ Mr, nr ≤ Nr) = (loadC ? C : 0) + panelA·panelB (+ bias[nr]):
    /// panelA is kc steps of Mr values, panelB kc steps of Nr values (packed as <see cref="GemmPacking"/> does). A short
    /// tile is computed whole into edgeTile (Mr·Nr floats of scratch) and its valid corner merged into C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyTile(int mr, int nr, int kc, float* panelA, float* panelB, float* c, int ldc, bool loadC, float* bias, float* edgeTile)
    {
        if (mr == Mr && nr == Nr)
        {
            MicroKernel(kc, panelA, panelB, c, ldc, loadC, bias);
        }
        else
        {
            MicroKernel(kc, panelA, panelB, edgeTile, Nr, loadC: false, bias: null);
            MergeEdgeTile(edgeTile, mr, nr, c, ldc, loadC, bias);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroKernel(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
    {
        if (UsesAvx512) MicroKernel<Float512, Vector512<float>>(kc, a, b, c, ldc, loadC, bias);
        else if (UsesFma) MicroKernel<Float256, Vector256<float>>(kc, a, b, c, ldc, loadC, bias);
        else MicroKernelScalar(kc, a, b, c, ldc, loadC, bias);
    }

    // a is (kc, 6), b is (kc, Nr) with Nr = 2 vectors, c is a 6×Nr tile with leading dimension ldc: per k step two
    // loads of B and six broadcasts of A feed twelve FMAs into the twelve accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernel<TLanes, TVector>(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        int w = TLanes.Count;
        if (loadC)
        {
            // The tile of C is read back after the k loop: start fetching its cache lines now.
            for (int i = 0; i < Mr; i++)
            {
                for (int j = 0; j < 2 * w; j += 16) Sse.Prefetch0(c + (long)i * ldc + j);
                Sse.Prefetch0(c + (long)i * ldc + (2 * w) - 1);
            }
        }
        TVector c00 = TLanes.Zero, c01 = TLanes.Zero, c10 = TLanes.Zero, c11 = TLanes.Zero, c20 = TLanes.Zero, c21 = TLanes.Zero;
        TVector c30 = TLanes.Zero, c31 = TLanes.Zero, c40 = TLanes.Zero, c41 = TLanes.Zero, c50 = TLanes.Zero, c51 = TLanes.Zero;
        for (int p = 0; p < kc; p++, a += Mr, b += 2 * w)
        {
            var b0 = TLanes.Load(b);
            var b1 = TLanes.Load(b + w);
            var ai = TLanes.Create(a[0]);
            c00 = TLanes.MultiplyAdd(ai, b0, c00);
            c01 = TLanes.MultiplyAdd(ai, b1, c01);
            ai = TLanes.Create(a[1]);
            c10 = TLanes.MultiplyAdd(ai, b0, c10);
            c11 = TLanes.MultiplyAdd(ai, b1, c11);
            ai = TLanes.Create(a[2]);
            c20 = TLanes.MultiplyAdd(ai, b0, c20);
            c21 = TLanes.MultiplyAdd(ai, b1, c21);
            ai = TLanes.Create(a[3]);
            c30 = TLanes.MultiplyAdd(ai, b0, c30);
            c31 = TLanes.MultiplyAdd(ai, b1, c31);
            ai = TLanes.Create(a[4]);
            c40 = TLanes.MultiplyAdd(ai, b0, c40);
            c41 = TLanes.MultiplyAdd(ai, b1, c41);
            ai = TLanes.Create(a[5]);
            c50 = TLanes.MultiplyAdd(ai, b0, c50);
            c51 = TLanes.MultiplyAdd(ai, b1, c51);
        }
        StoreRow<TLanes, TVector>(c, c00, c01, loadC, bias);
        StoreRow<TLanes, TVector>(c + ldc, c10, c11, loadC, bias);
        StoreRow<TLanes, TVector>(c + 2L * ldc, c20, c21, loadC, bias);
        StoreRow<TLanes, TVector>(c + 3L * ldc, c30, c31, loadC, bias);
        StoreRow<TLanes, TVector>(c + 4L * ldc, c40, c41, loadC, bias);
        StoreRow<TLanes, TVector>(c + 5L * ldc, c50, c51, loadC, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TLanes, TVector>(float* row, TVector left, TVector right, bool loadC, float* bias)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        int w = TLanes.Count;
        if (loadC)
        {
            left = TLanes.Add(left, TLanes.Load(row));
            right = TLanes.Add(right, TLanes.Load(row + w));
        }
        if (bias != null)
        {
            left = TLanes.Add(left, TLanes.Load(bias));
            right = TLanes.Add(right, TLanes.Load(bias + w));
        }
        TLanes.Store(left, row);
        TLanes.Store(right, row + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdgeTile(float* tile, int mr, int nr, float* c, int ldc, bool loadC, float* bias)
    {
        for (int i = 0; i < mr; i++)
        {
            float* row = c + (long)i * ldc;
            for (int j = 0; j < nr; j++)
            {
                float value = tile[i * Nr + j];
                if (loadC) value += row[j];
                if (bias != null) value += bias[j];
                row[j] = value;
            }
        }
    }

    // Fallback without AVX2/FMA: the same packed tile contract with plain multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernelScalar(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
    {
        float* tile = stackalloc float[Mr * Nr];
        new Span<float>(tile, Mr * Nr).Clear();
        for (int p = 0; p < kc; p++, a += Mr, b += Nr)
        {
            for (int i = 0; i < Mr; i++)
            {
                float ai = a[i];
                float* tileRow = tile + i * Nr;
                for (int j = 0; j < Nr; j++) tileRow[j] += ai * b[j];
            }
        }
        for (int i = 0; i < Mr; i++)
        {
            float* row = c + (long)i * ldc;
            for (int j = 0; j < Nr; j++)
            {
                float value = tile[i * Nr + j];
                if (loadC) value += row[j];
                if (bias != null) value += bias[j];
                row[j] = value;
            }
        }
    }
}
