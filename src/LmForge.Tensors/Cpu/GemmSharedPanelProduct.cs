namespace LmForge.Tensors.Cpu;

/// <summary>
/// The parallel form of Gemm for products with enough rows: for each (jc, pc) block the workers first pack the
/// kc×nc block of op(B) together into one shared buffer, then take row chunks of C from a shared counter, each
/// packing only its own rows of op(A). Nothing is packed twice, and a worker that the OS delays simply takes
/// fewer chunks instead of holding everyone up at the end.
/// </summary>
internal static unsafe class GemmSharedPanelProduct
{
    public static void Multiply(
        WorkerPool pool, bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, float* bias)
    {
        // About three chunks per worker so late starters can be balanced, at most one Mc block each.
        int rowsPerChunk = (m + 3 * pool.WorkerCount - 1) / (3 * pool.WorkerCount);
        rowsPerChunk = Math.Clamp((rowsPerChunk + GemmKernel.Mr - 1) / GemmKernel.Mr * GemmKernel.Mr, GemmKernel.Mr, GemmKernel.Mc);
        int chunkCount = (m + rowsPerChunk - 1) / rowsPerChunk;
        float* packedB = GemmPackingBuffers.ForCurrentThread().PackedB;

        for (int jc = 0; jc < n; jc += GemmKernel.Nc)
        {
            int nc = Math.Min(GemmKernel.Nc, n - jc);
            for (int pc = 0; pc < k; pc += GemmKernel.Kc)
            {
                int kc = Math.Min(GemmKernel.Kc, k - pc);
                var pack = new PackBOperation(transposeB, b, ldb, pc, jc, kc, nc, packedB);
                pool.Run((nc + GemmKernel.Nr - 1) / GemmKernel.Nr, 4, ref pack);

                bool firstBlock = pc == 0;
                int nextChunk = 0;
                var rows = new RowChunkOperation
                {
                    TransposeA = transposeA, A = a, Lda = lda, Pc = pc, Kc = kc, Nc = nc, PackedB = packedB,
                    C = c + jc, Ldc = ldc, M = m, RowsPerChunk = rowsPerChunk, ChunkCount = chunkCount,
                    NextChunk = &nextChunk, LoadC = !firstBlock || accumulate,
                    Bias = firstBlock && bias != null ? bias + jc : null,
                };
                pool.Run(pool.WorkerCount, 1, ref rows);
            }
        }
    }

    // Packs Nr-column panels [start, end) of the kc×nc block of op(B) at (pc, jc).
    private readonly struct PackBOperation(
        bool transposeB, float* b, int ldb, int pc, int jc, int kc, int nc, float* packedB) : IRangeOperation
    {
        public void Invoke(int start, int end)
        {
            int c0 = start * GemmKernel.Nr, c1 = Math.Min(nc, end * GemmKernel.Nr);
            GemmPacking.PackB(transposeB, b, ldb, pc, jc + c0, kc, c1 - c0, packedB + (long)c0 * kc);
        }
    }

    // Each worker repeatedly claims the next row chunk of C, packs those rows of op(A) and multiplies them by the
    // shared packed B block. The range handed to Invoke is ignored: the counter does the splitting.
    private struct RowChunkOperation : IRangeOperation
    {
        public bool TransposeA, LoadC;
        public float* A, PackedB, C, Bias;
        public int Lda, Pc, Kc, Nc, Ldc, M, RowsPerChunk, ChunkCount;
        public int* NextChunk;

        public readonly void Invoke(int start, int end)
        {
            float* packedA = GemmPackingBuffers.ForCurrentThread().PackedA;
            int chunk;
            while ((chunk = Interlocked.Increment(ref *NextChunk) - 1) < ChunkCount)
            {
                int ic = chunk * RowsPerChunk;
                int mc = Math.Min(RowsPerChunk, M - ic);
                GemmPacking.PackA(TransposeA, A, Lda, ic, Pc, mc, Kc, packedA);
                GemmKernel.MultiplyBlock(mc, Nc, Kc, packedA, PackedB, C + (long)ic * Ldc, Ldc, LoadC, Bias);
            }
        }
    }
}
