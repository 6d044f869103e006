using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// Copies blocks of op(A) and op(B) into the contiguous panel layout the micro-kernel streams through.
/// Packing is where the transposes go: the kernel only ever sees packed panels. Short edge panels are zero-padded
/// to the full Mr or Nr width so the kernel never branches on the edge.
/// </summary>
internal static unsafe class GemmPacking
{
    private const int Mr = GemmKernel.Mr;
    private static readonly int Nr = GemmKernel.Nr;

    // packed is (mc/Mr panels, kc, Mr): packed[panel][p][i] = op(A)[ic + panel·Mr + i, pc + p].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transposeA, float* a, int lda, int ic, int pc, int mc, int kc, float* packed)
    {
        for (int r0 = 0; r0 < mc; r0 += Mr)
        {
            int rows = Math.Min(Mr, mc - r0);
            float* panel = packed + (long)r0 * kc;
            if (transposeA)
            {
                // A is stored k×m: the Mr values of one k step are contiguous.
                float* source = a + (long)pc * lda + ic + r0;
                if (rows == Mr)
                {
                    for (int p = 0; p < kc; p++, source += lda, panel += Mr)
                    {
                        panel[0] = source[0];
                        panel[1] = source[1];
                        panel[2] = source[2];
                        panel[3] = source[3];
                        panel[4] = source[4];
                        panel[5] = source[5];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, source += lda, panel += Mr)
                    {
                        for (int i = 0; i < Mr; i++) panel[i] = i < rows ? source[i] : 0f;
                    }
                }
            }
            else
            {
                // A is stored m×k: each of the Mr rows is contiguous along k.
                float* row = a + (long)(ic + r0) * lda + pc;
                if (rows == Mr)
                {
                    float* row0 = row, row1 = row + lda, row2 = row1 + lda, row3 = row2 + lda, row4 = row3 + lda,
                        row5 = row4 + lda;
                    int p = 0;
                    if (Avx.IsSupported)
                    {
                        // 8 k steps at a time: transpose a 6×8 block (two zero rows make it 8×8) and store each
                        // column with a full 8-wide store; its last 2 lanes are overwritten by the next column
                        // (the buffer has slack for the very last one).
                        for (; p + 8 <= kc; p += 8, panel += 8 * Mr)
                        {
                            var c0 = Vector256.Load(row0 + p);
                            var c1 = Vector256.Load(row1 + p);
                            var c2 = Vector256.Load(row2 + p);
                            var c3 = Vector256.Load(row3 + p);
                            var c4 = Vector256.Load(row4 + p);
                            var c5 = Vector256.Load(row5 + p);
                            var c6 = Vector256<float>.Zero;
                            var c7 = Vector256<float>.Zero;
                            Transpose8x8(ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7);
                            Vector256.Store(c0, panel);
                            Vector256.Store(c1, panel + Mr);
                            Vector256.Store(c2, panel + 2 * Mr);
                            Vector256.Store(c3, panel + 3 * Mr);
                            Vector256.Store(c4, panel + 4 * Mr);
                            Vector256.Store(c5, panel + 5 * Mr);
                            Vector256.Store(c6, panel + 6 * Mr);
                            Vector256.Store(c7, panel + 7 * Mr);
                        }
                    }
                    for (; p < kc; p++, panel += Mr)
                    {
                        panel[0] = row0[p];
                        panel[1] = row1[p];
                        panel[2] = row2[p];
                        panel[3] = row3[p];
                        panel[4] = row4[p];
                        panel[5] = row5[p];
                    }
                }
                else
                {
                    for (int i = 0; i < Mr; i++)
                    {
                        float* source = row + (long)i * lda;
                        for (int p = 0; p < kc; p++) panel[p * Mr + i] = i < rows ? source[p] : 0f;
                    }
                }
            }
        }
    }

    // packed is (nc/Nr panels, kc, Nr): packed[panel][p][j] = op(B)[pc + p, jc + panel·Nr + j].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transposeB, float* b, int ldb, int pc, int jc, int kc, int nc, float* packed)
    {
        for (int c0 = 0; c0 < nc; c0 += Nr)
        {
            int columns = Math.Min(Nr, nc - c0);
            float* panel = packed + (long)c0 * kc;
            if (transposeB)
            {
                // B is stored n×k: each of the Nr columns of op(B) is a contiguous row of B.
                float* source = b + (long)(jc + c0) * ldb + pc;
                if (columns == Nr)
                {
                    PackTransposedPanel(source, ldb, kc, panel);
                }
                else
                {
                    for (int j = 0; j < Nr; j++)
                    {
                        float* row = source + (long)j * ldb;
                        for (int p = 0; p < kc; p++) panel[p * Nr + j] = j < columns ? row[p] : 0f;
                    }
                }
            }
            else
            {
                // B is stored k×n: the Nr values of one k step are contiguous.
                float* source = b + (long)pc * ldb + jc + c0;
                if (columns == Nr)
                {
                    for (int p = 0; p < kc; p++, source += ldb, panel += Nr)
                    {
                        for (int j = 0; j < Nr; j += 8) Vector256.Store(Vector256.Load(source + j), panel + j);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, source += ldb, panel += Nr)
                    {
                        for (int j = 0; j < Nr; j++) panel[j] = j < columns ? source[j] : 0f;
                    }
                }
            }
        }
    }

    // panel[p][j] = source[j·ld + p] for Nr rows j of a row-major matrix: an Nr×kc → kc×Nr transpose.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedPanel(float* source, int ld, int kc, float* panel)
    {
        int p = 0;
        if (Avx.IsSupported)
        {
            // 8×8 blocks: rows 0-7 of 8 k steps fill the first 8 columns of 8 panel rows, rows 8-15 the next 8, and so on.
            for (; p + 8 <= kc; p += 8)
            {
                for (int half = 0; half < Nr; half += 8)
                {
                    float* rows = source + (long)half * ld + p;
                    var r0 = Vector256.Load(rows);
                    var r1 = Vector256.Load(rows + ld);
                    var r2 = Vector256.Load(rows + 2L * ld);
                    var r3 = Vector256.Load(rows + 3L * ld);
                    var r4 = Vector256.Load(rows + 4L * ld);
                    var r5 = Vector256.Load(rows + 5L * ld);
                    var r6 = Vector256.Load(rows + 6L * ld);
                    var r7 = Vector256.Load(rows + 7L * ld);
                    Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                    float* target = panel + p * Nr + half;
                    Vector256.Store(r0, target);
                    Vector256.Store(r1, target + Nr);
                    Vector256.Store(r2, target + 2 * Nr);
                    Vector256.Store(r3, target + 3 * Nr);
                    Vector256.Store(r4, target + 4 * Nr);
                    Vector256.Store(r5, target + 5 * Nr);
                    Vector256.Store(r6, target + 6 * Nr);
                    Vector256.Store(r7, target + 7 * Nr);
                }
            }
        }
        for (int j = 0; j < Nr; j++)
        {
            float* row = source + (long)j * ld;
            for (int q = p; q < kc; q++) panel[q * Nr + j] = row[q];
        }
    }

    // In-register transpose: on return r_c holds column c of the 8×8 block whose rows were r0..r7.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(
        ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // Interleave pairs of rows, then pairs of pairs within each 128-bit lane, then swap lanes.
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(s0, s4, 0x20);
        r1 = Avx.Permute2x128(s1, s5, 0x20);
        r2 = Avx.Permute2x128(s2, s6, 0x20);
        r3 = Avx.Permute2x128(s3, s7, 0x20);
        r4 = Avx.Permute2x128(s0, s4, 0x31);
        r5 = Avx.Permute2x128(s1, s5, 0x31);
        r6 = Avx.Permute2x128(s2, s6, 0x31);
        r7 = Avx.Permute2x128(s3, s7, 0x31);
    }
}
