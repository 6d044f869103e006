namespace LmForge.Tensors.Cpu;

/// <summary>
/// Single-precision matrix product for row-major matrices, the one kernel behind every linear layer:
/// C[m,n] = op(A)[m,k] · op(B)[k,n] (+ bias[n]) (+ C when accumulating).
/// op(A) is A (m×k, leading dimension lda) or, when transposeA, Aᵀ where A is stored k×m.
/// op(B) is B (k×n, leading dimension ldb) or, when transposeB, Bᵀ where B is stored n×k.
/// </summary>
public static unsafe class Gemm
{
    // PLACEHOLDER contract: the packed, cache-blocked, register-blocked implementation replaces this body.
    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc,
        bool accumulate = false, float* bias = null)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    float bv = transposeB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                    sum += av * bv;
                }
                if (bias != null) sum += bias[j];
                float* dst = c + (long)i * ldc + j;
                *dst = accumulate ? *dst + sum : sum;
            }
        }
    }
}
