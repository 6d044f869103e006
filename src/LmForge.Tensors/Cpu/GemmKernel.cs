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
                if (mr == Mr && nr == Nr)
                {
                    MicroKernel(kc, panelA, panelB, cTile, ldc, loadC, biasTile);
                }
                else
                {
                    // Edge tile: compute the full padded tile aside, then merge only the valid mr×nr corner.
                    MicroKernel(kc, panelA, panelB, edgeTile, Nr, loadC: false, bias: null);
                    MergeEdgeTile(edgeTile, mr, nr, cTile, ldc, loadC, biasTile);
                }
                if (activated != null)
                {
                    Kernels.ActivationKernel.ForwardTile(activation, cTile, activated + (long)ir * ldc + jr, ldc, mr, nr);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroKernel(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
    {
        if (UsesAvx512) MicroKernelAvx512(kc, a, b, c, ldc, loadC, bias);
        else if (UsesFma) MicroKernelFma(kc, a, b, c, ldc, loadC, bias);
        else MicroKernelScalar(kc, a, b, c, ldc, loadC, bias);
    }

    // a is (kc, 6), b is (kc, 32), c is a 6×32 tile with leading dimension ldc. Two k steps per iteration keep the
    // loop's own instructions off the FMA ports.
    private static void MicroKernelAvx512(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
    {
        if (loadC)
        {
            for (int i = 0; i < Mr; i++)
            {
                Sse.Prefetch0(c + (long)i * ldc);
                Sse.Prefetch0(c + (long)i * ldc + 16);
                Sse.Prefetch0(c + (long)i * ldc + 31);
            }
        }
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int p = 0;
        for (; p + 2 <= kc; p += 2, a += 2 * Mr, b += 64)
        {
            var b0 = Vector512.LoadAligned(b);
            var b1 = Vector512.LoadAligned(b + 16);
            var ai = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
            b0 = Vector512.LoadAligned(b + 32);
            b1 = Vector512.LoadAligned(b + 48);
            ai = Vector512.Create(a[6]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a[7]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a[8]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a[9]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a[10]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a[11]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
        }
        if (p < kc)
        {
            var b0 = Vector512.LoadAligned(b);
            var b1 = Vector512.LoadAligned(b + 16);
            var ai = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
        }
        StoreRow(c, c00, c01, loadC, bias);
        StoreRow(c + ldc, c10, c11, loadC, bias);
        StoreRow(c + 2L * ldc, c20, c21, loadC, bias);
        StoreRow(c + 3L * ldc, c30, c31, loadC, bias);
        StoreRow(c + 4L * ldc, c40, c41, loadC, bias);
        StoreRow(c + 5L * ldc, c50, c51, loadC, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* row, Vector512<float> left, Vector512<float> right, bool loadC, float* bias)
    {
        if (loadC)
        {
            left += Vector512.Load(row);
            right += Vector512.Load(row + 16);
        }
        if (bias != null)
        {
            left += Vector512.Load(bias);
            right += Vector512.Load(bias + 16);
        }
        Vector512.Store(left, row);
        Vector512.Store(right, row + 16);
    }

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

    // a is (kc, 6), b is (kc, 16), c is a 6×16 tile with leading dimension ldc.
    private static void MicroKernelFma(int kc, float* a, float* b, float* c, int ldc, bool loadC, float* bias)
    {
        if (loadC)
        {
            // The tile of C is read back after the k loop: start fetching its 12 cache lines now.
            for (int i = 0; i < Mr; i++)
            {
                Sse.Prefetch0(c + (long)i * ldc);
                Sse.Prefetch0(c + (long)i * ldc + 15);
            }
        }
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += Mr, b += Nr)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            var ai = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(ai, b0, c00);
            c01 = Fma.MultiplyAdd(ai, b1, c01);
            ai = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(ai, b0, c10);
            c11 = Fma.MultiplyAdd(ai, b1, c11);
            ai = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(ai, b0, c20);
            c21 = Fma.MultiplyAdd(ai, b1, c21);
            ai = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(ai, b0, c30);
            c31 = Fma.MultiplyAdd(ai, b1, c31);
            ai = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(ai, b0, c40);
            c41 = Fma.MultiplyAdd(ai, b1, c41);
            ai = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(ai, b0, c50);
            c51 = Fma.MultiplyAdd(ai, b1, c51);
        }
        StoreRow(c, c00, c01, loadC, bias);
        StoreRow(c + ldc, c10, c11, loadC, bias);
        StoreRow(c + 2L * ldc, c20, c21, loadC, bias);
        StoreRow(c + 3L * ldc, c30, c31, loadC, bias);
        StoreRow(c + 4L * ldc, c40, c41, loadC, bias);
        StoreRow(c + 5L * ldc, c50, c51, loadC, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* row, Vector256<float> left, Vector256<float> right, bool loadC, float* bias)
    {
        if (loadC)
        {
            left += Vector256.Load(row);
            right += Vector256.Load(row + 8);
        }
        if (bias != null)
        {
            left += Vector256.Load(bias);
            right += Vector256.Load(bias + 8);
        }
        Vector256.Store(left, row);
        Vector256.Store(right, row + 8);
    }

    // Fallback without AVX2/FMA: the same packed tile contract with plain multiply-adds.
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
