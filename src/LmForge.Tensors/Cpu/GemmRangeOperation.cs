using System.Runtime.CompilerServices;
namespace LmForge.Tensors.Cpu;

/// <summary>
/// One Gemm.Multiply call as a range operation over panels of C: column panels of Nr when C is wider than tall,
/// row panels of Mr otherwise. Each worker runs the full blocked loop nest on its slice of C with its own
/// packing buffers, so workers never wait on each other inside a product.
/// </summary>
internal readonly unsafe struct GemmRangeOperation : IRangeOperation
{
    private readonly float* _a, _b, _c, _bias;
    private readonly int _m, _n, _k, _lda, _ldb, _ldc;
    private readonly bool _transposeA, _transposeB, _accumulate;
    private readonly GemmEpilogue _epilogue;

    public GemmRangeOperation(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias, GemmEpilogue epilogue)
    {
        _epilogue = epilogue;
        _transposeA = transposeA;
        _transposeB = transposeB;
        _m = m;
        _n = n;
        _k = k;
        _a = a;
        _lda = lda;
        _b = b;
        _ldb = ldb;
        _c = c;
        _ldc = ldc;
        _accumulate = accumulate;
        _bias = bias;
        SplitColumns = n >= m;
        PanelCount = SplitColumns ? (n + GemmKernel.Nr - 1) / GemmKernel.Nr : (m + GemmKernel.Mr - 1) / GemmKernel.Mr;
    }

    public bool SplitColumns { get; }

    public int PanelCount { get; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Invoke(int start, int end)
    {
        if (SplitColumns)
        {
            int n0 = start * GemmKernel.Nr, n1 = Math.Min(_n, end * GemmKernel.Nr);
            Compute(0, _m, n0, n1);
        }
        else
        {
            int m0 = start * GemmKernel.Mr, m1 = Math.Min(_m, end * GemmKernel.Mr);
            Compute(m0, m1, 0, _n);
        }
    }

    // C[m0:m1, n0:n1] = op(A)[m0:m1, :] · op(B)[:, n0:n1] with bias/accumulate, in the BLIS loop order:
    // jc over Nc columns (B block in L3) → pc over Kc (pack B) → ic over Mc rows (pack A, A block in L2)
    // → jr over Nr (B micro-panel in L1) → ir over Mr (micro-kernel, C tile in registers).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compute(int m0, int m1, int n0, int n1)
    {
        var buffers = GemmPackingBuffers.ForCurrentThread();
        float* packedA = buffers.PackedA, packedB = buffers.PackedB;
        for (int jc = n0; jc < n1; jc += GemmKernel.Nc)
        {
            int nc = Math.Min(GemmKernel.Nc, n1 - jc);
            for (int pc = 0; pc < _k; pc += GemmKernel.Kc)
            {
                int kc = Math.Min(GemmKernel.Kc, _k - pc);
                GemmPacking.PackB(_transposeB, _b, _ldb, pc, jc, kc, nc, packedB);
                bool firstBlock = pc == 0;
                bool lastBlock = pc + kc == _k;
                bool loadC = !firstBlock || _accumulate;
                float* bias = firstBlock ? _bias : null;
                for (int ic = m0; ic < m1; ic += GemmKernel.Mc)
                {
                    int mc = Math.Min(GemmKernel.Mc, m1 - ic);
                    GemmPacking.PackA(_transposeA, _a, _lda, ic, pc, mc, kc, packedA);
                    long offset = (long)ic * _ldc + jc;
                    GemmKernel.MultiplyBlock(
                        mc, nc, kc, packedA, packedB, _c + offset, _ldc, loadC, bias == null ? null : bias + jc,
                        lastBlock && _epilogue.Activated != null ? _epilogue.Activated + offset : null, _epilogue.Activation);
                }
            }
        }
    }
}
