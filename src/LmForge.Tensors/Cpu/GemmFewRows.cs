using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// Gemm's path for C = A·Bᵀ (+ bias) (+ C) when A has few rows: a linear layer's forward pass while decoding, where
/// A is a handful of tokens' activations and B the weight (n×k, nn.Linear's layout). The packed path copies each
/// panel of B before multiplying it, which for a few rows of A costs more memory traffic than the arithmetic:
/// here each row of B is read once, straight from memory, and dotted with every row of A (m·k floats, which stay
/// in L1/L2). The range is blocks of <see cref="GemmDotKernel.Columns"/> rows of B (columns of C); one worker's
/// blocks are contiguous, so each core streams its own stretch of B.
/// </summary>
internal readonly unsafe struct GemmFewRows : IRangeOperation
{
    /// <summary>
    /// Products with at most this many rows of A take this path. Measured with `bench gemm --few-rows` (GPT-2's five
    /// shapes and an 8192→2048 one, weights streamed from memory): with the 4-row tiles of AVX-512 this path is faster
    /// at every row count up to 64, beyond which the packed one catches up once the rows of A outgrow L2 (3072-deep:
    /// from 96 rows); with 2-row tiles the deep shapes cross over between 32 and 48 rows.
    /// </summary>
    public static int MaxRows => Vector512.IsHardwareAccelerated ? 64 : 32;

    private readonly float* _a, _b, _c, _bias;
    private readonly int _m, _n, _k, _lda, _ldb, _ldc;
    private readonly bool _accumulate;

    public GemmFewRows(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias)
    {
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
    }

    public int BlockCount => (_n + GemmDotKernel.Columns - 1) / GemmDotKernel.Columns;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Invoke(int start, int end)
    {
        if (Vector512.IsHardwareAccelerated) Compute<Float512, Vector512<float>>(start, end);
        else if (Vector256.IsHardwareAccelerated) Compute<Float256, Vector256<float>>(start, end);
        else ComputeScalar(start, end);
    }

    // C[:, j0:j1] for blocks [start, end): for each block of 4 rows of B, every row group of A in turn, so the block
    // comes from memory once and from L1/L2 for the other groups.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Compute<TLanes, TVector>(int start, int end)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        // Four rows of A per tile need 16 accumulators: only with AVX-512's 32 vector registers.
        int groupRows = TLanes.Count == Vector512<float>.Count ? 4 : 2;
        for (int block = start; block < end; block++)
        {
            int j = block * GemmDotKernel.Columns;
            int columns = Math.Min(GemmDotKernel.Columns, _n - j);
            float* b0 = _b + (long)j * _ldb;
            float* b1 = BlockRow(b0, 1, columns), b2 = BlockRow(b0, 2, columns), b3 = BlockRow(b0, 3, columns);
            float* c = _c + j;
            float* bias = _bias == null ? null : _bias + j;
            // The first tile of a block reads it from memory and prefetches the next block into L2 as it goes. The
            // hardware prefetchers alone restart on every short row: one core streamed 768-float rows at 17 GB/s
            // without this, 23 GB/s with it.
            long ahead = block + 1 < end ? (long)GemmDotKernel.Columns * _ldb : 0;
            int i = 0;
            if (groupRows == 4)
            {
                for (; i + 4 <= _m; i += 4, ahead = 0)
                {
                    GemmDotKernel.Tile4x4<TLanes, TVector>(_a + (long)i * _lda, _lda, b0, b1, b2, b3, _k,
                        c + (long)i * _ldc, _ldc, columns, _accumulate, bias, ahead);
                }
            }
            for (; i + 2 <= _m; i += 2, ahead = 0)
            {
                GemmDotKernel.Tile2x4<TLanes, TVector>(_a + (long)i * _lda, _lda, b0, b1, b2, b3, _k,
                    c + (long)i * _ldc, _ldc, columns, _accumulate, bias, ahead);
            }
            if (i < _m)
            {
                GemmDotKernel.Tile1x4<TLanes, TVector>(_a + (long)i * _lda, b0, b1, b2, b3, _k,
                    c + (long)i * _ldc, columns, _accumulate, bias, ahead);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ComputeScalar(int start, int end)
    {
        for (int block = start; block < end; block++)
        {
            int j = block * GemmDotKernel.Columns;
            int columns = Math.Min(GemmDotKernel.Columns, _n - j);
            float* b0 = _b + (long)j * _ldb;
            float* b1 = BlockRow(b0, 1, columns), b2 = BlockRow(b0, 2, columns), b3 = BlockRow(b0, 3, columns);
            float* bias = _bias == null ? null : _bias + j;
            for (int i = 0; i < _m; i++)
            {
                GemmDotKernel.Tile1x4Scalar(_a + (long)i * _lda, b0, b1, b2, b3, _k, _c + (long)i * _ldc + j, columns,
                    _accumulate, bias);
            }
        }
    }

    // Row q of the block starting at b0; past the last row of B (q >= columns) the last one again, its results not stored.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* BlockRow(float* b0, int q, int columns) => b0 + (long)Math.Min(q, columns - 1) * _ldb;
}
