using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// Copies blocks of op(A) and op(B) into the contiguous panel layout the micro-kernel streams through.
/// Packing is where the transposes go: the kernel only ever sees packed panels. Short edge panels are zero-padded
/// to the full Mr or Nr width so the kernel never branches on the edge.
/// </summary>
internal static unsafe class GemmPacking
{
    private const int Mr = GemmKernel.Mr, Nr = GemmKernel.Nr;

    // packed is (mc/Mr panels, kc, Mr): packed[panel][p][i] = op(A)[ic + panel·Mr + i, pc + p].
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
                    for (int p = 0; p < kc; p++, panel += Mr)
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
                        Vector256.Store(Vector256.Load(source), panel);
                        Vector256.Store(Vector256.Load(source + 8), panel + 8);
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

    // panel[p][j] = source[j·ld + p] for 16 rows j of a row-major matrix: a 16×kc → kc×16 transpose.
    private static void PackTransposedPanel(float* source, int ld, int kc, float* panel)
    {
        for (int j = 0; j < Nr; j++)
        {
            float* row = source + (long)j * ld;
            float* column = panel + j;
            for (int p = 0; p < kc; p++) column[p * Nr] = row[p];
        }
    }
}
