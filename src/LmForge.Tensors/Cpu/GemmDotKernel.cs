using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// The tiles of the few-rows path (<see cref="GemmFewRows"/>): dot products of up to 4 rows of A with 4 rows of B,
/// C[i, j..j+4] = Σ_p A[i,p]·B[j+q,p]. One tile reads its 4 B rows once, one vector of each per k step, and holds
/// every (A row, B row) pair's partial sums in its own accumulator, so the 4×4 tile keeps 16 vector accumulators.
/// Written once over the vector width: <see cref="Float512"/> and <see cref="Float256"/> are the widths it runs at.
/// Each tile is its own method, never inlined into the loop that picks it: the JIT then optimizes each one's loop on
/// its own profile. Inlined into one caller, a tile that the first products never ran (say the 4-row tile, when
/// decoding starts with one row) was compiled as cold code, its accumulators spilled, and ran at a third of its speed.
/// </summary>
internal static unsafe class GemmDotKernel
{
    /// <summary>B rows per tile: C columns written by one tile.</summary>
    public const int Columns = 4;

    // a is (4, k) with leading dimension lda; b0..b3 are 4 rows of B, k floats each (a tile at the right edge of C
    // repeats its last real row and stores only the first `columns` results); c is the tile's first row in C (ldc).
    // The k % width floats after the last full vector are added in scalar (k of real layers is a multiple of 16).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile4x4<TLanes, TVector>(float* a, int lda, float* b0, float* b1, float* b2, float* b3, int k,
        float* c, int ldc, int columns, bool accumulate, float* bias, long ahead)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
        TVector s00 = default, s01 = default, s02 = default, s03 = default;
        TVector s10 = default, s11 = default, s12 = default, s13 = default;
        TVector s20 = default, s21 = default, s22 = default, s23 = default;
        TVector s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p <= k - TLanes.Count; p += TLanes.Count)
        {
            if (ahead != 0) Prefetch(b0 + p + ahead, b1 + p + ahead, b2 + p + ahead, b3 + p + ahead);
            TVector x0 = TLanes.Load(a + p), x1 = TLanes.Load(a1 + p);
            TVector x2 = TLanes.Load(a2 + p), x3 = TLanes.Load(a3 + p);
            TVector w = TLanes.Load(b0 + p);
            s00 = TLanes.MultiplyAdd(x0, w, s00);
            s10 = TLanes.MultiplyAdd(x1, w, s10);
            s20 = TLanes.MultiplyAdd(x2, w, s20);
            s30 = TLanes.MultiplyAdd(x3, w, s30);
            w = TLanes.Load(b1 + p);
            s01 = TLanes.MultiplyAdd(x0, w, s01);
            s11 = TLanes.MultiplyAdd(x1, w, s11);
            s21 = TLanes.MultiplyAdd(x2, w, s21);
            s31 = TLanes.MultiplyAdd(x3, w, s31);
            w = TLanes.Load(b2 + p);
            s02 = TLanes.MultiplyAdd(x0, w, s02);
            s12 = TLanes.MultiplyAdd(x1, w, s12);
            s22 = TLanes.MultiplyAdd(x2, w, s22);
            s32 = TLanes.MultiplyAdd(x3, w, s32);
            w = TLanes.Load(b3 + p);
            s03 = TLanes.MultiplyAdd(x0, w, s03);
            s13 = TLanes.MultiplyAdd(x1, w, s13);
            s23 = TLanes.MultiplyAdd(x2, w, s23);
            s33 = TLanes.MultiplyAdd(x3, w, s33);
        }
        Store(Sum4<TLanes, TVector>(s00, s01, s02, s03) + Dots(a, b0, b1, b2, b3, p, k), c, columns, accumulate, bias);
        Store(Sum4<TLanes, TVector>(s10, s11, s12, s13) + Dots(a1, b0, b1, b2, b3, p, k), c + ldc, columns, accumulate, bias);
        Store(Sum4<TLanes, TVector>(s20, s21, s22, s23) + Dots(a2, b0, b1, b2, b3, p, k), c + 2L * ldc, columns, accumulate, bias);
        Store(Sum4<TLanes, TVector>(s30, s31, s32, s33) + Dots(a3, b0, b1, b2, b3, p, k), c + 3L * ldc, columns, accumulate, bias);
    }

    // Two rows of A: the same contract as Tile4x4.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile2x4<TLanes, TVector>(float* a, int lda, float* b0, float* b1, float* b2, float* b3, int k,
        float* c, int ldc, int columns, bool accumulate, float* bias, long ahead)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        float* a1 = a + lda;
        TVector s00 = default, s01 = default, s02 = default, s03 = default;
        TVector s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        for (; p <= k - TLanes.Count; p += TLanes.Count)
        {
            if (ahead != 0) Prefetch(b0 + p + ahead, b1 + p + ahead, b2 + p + ahead, b3 + p + ahead);
            TVector x0 = TLanes.Load(a + p), x1 = TLanes.Load(a1 + p);
            TVector w = TLanes.Load(b0 + p);
            s00 = TLanes.MultiplyAdd(x0, w, s00);
            s10 = TLanes.MultiplyAdd(x1, w, s10);
            w = TLanes.Load(b1 + p);
            s01 = TLanes.MultiplyAdd(x0, w, s01);
            s11 = TLanes.MultiplyAdd(x1, w, s11);
            w = TLanes.Load(b2 + p);
            s02 = TLanes.MultiplyAdd(x0, w, s02);
            s12 = TLanes.MultiplyAdd(x1, w, s12);
            w = TLanes.Load(b3 + p);
            s03 = TLanes.MultiplyAdd(x0, w, s03);
            s13 = TLanes.MultiplyAdd(x1, w, s13);
        }
        Store(Sum4<TLanes, TVector>(s00, s01, s02, s03) + Dots(a, b0, b1, b2, b3, p, k), c, columns, accumulate, bias);
        Store(Sum4<TLanes, TVector>(s10, s11, s12, s13) + Dots(a1, b0, b1, b2, b3, p, k), c + ldc, columns, accumulate, bias);
    }

    // One row of A, the decode case: the 4 B rows stream from memory into 4 independent accumulator chains.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x4<TLanes, TVector>(float* a, float* b0, float* b1, float* b2, float* b3, int k,
        float* c, int columns, bool accumulate, float* bias, long ahead)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        TVector s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - TLanes.Count; p += TLanes.Count)
        {
            if (ahead != 0) Prefetch(b0 + p + ahead, b1 + p + ahead, b2 + p + ahead, b3 + p + ahead);
            TVector x = TLanes.Load(a + p);
            s0 = TLanes.MultiplyAdd(x, TLanes.Load(b0 + p), s0);
            s1 = TLanes.MultiplyAdd(x, TLanes.Load(b1 + p), s1);
            s2 = TLanes.MultiplyAdd(x, TLanes.Load(b2 + p), s2);
            s3 = TLanes.MultiplyAdd(x, TLanes.Load(b3 + p), s3);
        }
        Store(Sum4<TLanes, TVector>(s0, s1, s2, s3) + Dots(a, b0, b1, b2, b3, p, k), c, columns, accumulate, bias);
    }

    // Without AVX2: one row of A against 4 rows of B in plain multiply-adds, the same tile contract.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x4Scalar(float* a, float* b0, float* b1, float* b2, float* b3, int k,
        float* c, int columns, bool accumulate, float* bias) =>
        Store(Dots(a, b0, b1, b2, b3, 0, k), c, columns, accumulate, bias);

    // [Σ_{p0≤p<k} a[p]·b0[p], ... b1, b2, b3] in scalar: the tiles' tail after the last full vector.
    private static Vector128<float> Dots(float* a, float* b0, float* b1, float* b2, float* b3, int p0, int k)
    {
        if (p0 == k) return Vector128<float>.Zero;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int p = p0; p < k; p++)
        {
            float x = a[p];
            s0 += x * b0[p];
            s1 += x * b1[p];
            s2 += x * b2[p];
            s3 += x * b3[p];
        }
        return Vector128.Create(s0, s1, s2, s3);
    }

    // Asks for the cache lines at these addresses to be brought into L2 (not L1: the next block would evict the
    // current one, which the tiles of the other rows of A read again). Prefetches never fault, so they may run past B.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* line0, float* line1, float* line2, float* line3)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch1(line0);
        Sse.Prefetch1(line1);
        Sse.Prefetch1(line2);
        Sse.Prefetch1(line3);
    }

    // [Σ s0, Σ s1, Σ s2, Σ s3]: each accumulator folded to 4 lanes, then a 4×4 transpose-and-add.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sum4<TLanes, TVector>(TVector s0, TVector s1, TVector s2, TVector s3)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        Vector128<float> f0 = TLanes.Fold(s0), f1 = TLanes.Fold(s1), f2 = TLanes.Fold(s2), f3 = TLanes.Fold(s3);
        if (Sse3.IsSupported) return Sse3.HorizontalAdd(Sse3.HorizontalAdd(f0, f1), Sse3.HorizontalAdd(f2, f3));
        return Vector128.Create(Vector128.Sum(f0), Vector128.Sum(f1), Vector128.Sum(f2), Vector128.Sum(f3));
    }

    // c[0..columns) = sums (+ c) (+ bias); a full tile is one 4-wide load/add/store.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<float> sums, float* c, int columns, bool accumulate, float* bias)
    {
        if (columns == Columns)
        {
            if (accumulate) sums += Vector128.Load(c);
            if (bias != null) sums += Vector128.Load(bias);
            Vector128.Store(sums, c);
            return;
        }
        for (int j = 0; j < columns; j++)
        {
            float value = sums.GetElement(j);
            if (accumulate) value += c[j];
            if (bias != null) value += bias[j];
            c[j] = value;
        }
    }
}
