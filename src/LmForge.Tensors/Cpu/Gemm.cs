using System.Runtime.CompilerServices;
using LmForge.Tensors.Cpu.Kernels;

namespace LmForge.Tensors.Cpu;

/// <summary>
/// Single-precision matrix product for row-major matrices, the one kernel behind every linear layer:
/// C[m,n] = op(A)[m,k] · op(B)[k,n] (+ bias[n]) (+ C when accumulating).
/// op(A) is A (m×k, leading dimension lda) or, when transposeA, Aᵀ where A is stored k×m.
/// op(B) is B (k×n, leading dimension ldb) or, when transposeB, Bᵀ where B is stored n×k.
/// </summary>
/// <remarks>
/// The product is computed the BLIS way: op(B) is packed into panels of <see cref="GemmKernel.Nr"/> columns
/// (a kc×nc block that stays in L3), op(A) into panels of <see cref="GemmKernel.Mr"/> rows (an mc×kc block that
/// stays in L2), and a register-blocked FMA micro-kernel multiplies one A panel by one B panel into an
/// Mr×Nr tile of C held in registers. Packing absorbs the transposes, so all four forms share the kernel.
/// Large products are split across <see cref="WorkerPool.Shared"/>, one slice of C per worker (columns when C is
/// wider than tall, rows otherwise), each worker running the whole blocked loop nest on its slice.
/// A·Bᵀ with at most <see cref="GemmFewRows.MaxRows"/> rows (64, or 32 without AVX-512: a linear layer's forward pass
/// while decoding) skips the packing: <see cref="GemmFewRows"/> reads each row of B once and dots it with every row of A.
/// </remarks>
public static unsafe class Gemm
{
    // Below this many multiply-adds the product runs on the calling thread: waking a worker costs more.
    private const long ParallelThreshold = 1L << 18;

    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc,
        bool accumulate = false, float* bias = null)
        => Multiply(WorkerPool.Shared, transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);

    /// <summary>Same as the other overload, but splits the work across the given pool (one worker = serial).</summary>
    public static void Multiply(
        WorkerPool pool, bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc,
        bool accumulate = false, float* bias = null)
        => Multiply(pool, GemmPath.Automatic, transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);

    // The tests and the benchmark force a path to check and time each one on any shape.
    internal static void Multiply(
        WorkerPool pool, GemmPath path, bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc,
        bool accumulate = false, float* bias = null, GemmEpilogue epilogue = default)
    {
        if (epilogue.Activated != null && (k == 0 || path == GemmPath.FewRows || (path == GemmPath.Automatic && ChoosesFewRows(transposeA, transposeB, m))))
        {
            // only the packed loop nest has an output stage: the others write C, then the activation runs over it
            Multiply(pool, path, transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);
            ActivationKernel.ForwardTile(epilogue.Activation, c, epilogue.Activated, ldc, m, n);
            return;
        }
        ArgumentNullException.ThrowIfNull(pool);
        Validate(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            ApplyEmptyProduct(m, n, c, ldc, accumulate, bias);
            return;
        }

        if (path == GemmPath.FewRows && (transposeA || !transposeB))
        {
            throw new ArgumentException("Gemm.Multiply: the few-rows path computes A·Bᵀ only.", nameof(path));
        }
        if (path == GemmPath.FewRows || (path == GemmPath.Automatic && ChoosesFewRows(transposeA, transposeB, m)))
        {
            MultiplyFewRows(pool, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);
            return;
        }

        var operation = new GemmRangeOperation(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, epilogue);
        long work = (long)m * n * k;
        if (pool.WorkerCount == 1 || work < ParallelThreshold)
        {
            operation.Invoke(0, operation.PanelCount);
            return;
        }
        // One slice of C per worker, along the longer side: one handoff per product, and the operand packed twice
        // (the short side, op(A) for column slices) costs about 1/(slice width) of the multiply-adds.
        int minPerWorker = operation.SplitColumns ? 64 / GemmKernel.Nr : 48 / GemmKernel.Mr;
        pool.Run(operation.PanelCount, minPerWorker, ref operation);
    }

    /// <summary>Whether Multiply takes the few-rows path for this form and row count.</summary>
    internal static bool ChoosesFewRows(bool transposeA, bool transposeB, int m) =>
        !transposeA && transposeB && m <= GemmFewRows.MaxRows;

    private static void MultiplyFewRows(
        WorkerPool pool, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate,
        float* bias)
    {
        var operation = new GemmFewRows(m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias);
        long work = (long)m * n * k;
        if (pool.WorkerCount == 1 || work < ParallelThreshold)
        {
            operation.Invoke(0, operation.BlockCount);
            return;
        }
        // Each worker gets at least half the threshold's multiply-adds: for one row of A, 512 KiB of B to stream.
        long blockWork = (long)m * k * GemmDotKernel.Columns;
        int minPerWorker = (int)Math.Max(1, ParallelThreshold / 2 / blockWork);
        pool.Run(operation.BlockCount, minPerWorker, ref operation);
    }

    // k == 0: op(A)·op(B) is the zero matrix, so C = (accumulate ? C : 0) + bias.
    private static void ApplyEmptyProduct(int m, int n, float* c, int ldc, bool accumulate, float* bias)
    {
        for (int i = 0; i < m; i++)
        {
            float* row = c + (long)i * ldc;
            for (int j = 0; j < n; j++)
            {
                float value = accumulate ? row[j] : 0f;
                row[j] = bias != null ? value + bias[j] : value;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Validate(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc)
    {
        if (m < 0) ThrowNegative(nameof(m), m);
        if (n < 0) ThrowNegative(nameof(n), n);
        if (k < 0) ThrowNegative(nameof(k), k);
        if (m == 0 || n == 0) return;
        int aWidth = transposeA ? m : k;
        int bWidth = transposeB ? k : n;
        if (lda < Math.Max(1, aWidth)) ThrowLeadingDimension(nameof(lda), lda, aWidth);
        if (ldb < Math.Max(1, bWidth)) ThrowLeadingDimension(nameof(ldb), ldb, bWidth);
        if (ldc < n) ThrowLeadingDimension(nameof(ldc), ldc, n);
        if (c == null) ThrowNull(nameof(c));
        if (k > 0 && a == null) ThrowNull(nameof(a));
        if (k > 0 && b == null) ThrowNull(nameof(b));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNegative(string name, int value) =>
        throw new ArgumentOutOfRangeException(name, value, $"Gemm.Multiply: {name} is {value}, expected >= 0.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLeadingDimension(string name, int value, int width) =>
        throw new ArgumentOutOfRangeException(
            name, value, $"Gemm.Multiply: {name} is {value}, expected >= the row width {Math.Max(1, width)}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNull(string name) =>
        throw new ArgumentNullException(name, $"Gemm.Multiply: {name} is null but the product reads it.");
}

/// <summary>
/// The product's output stage beyond bias and accumulation: with Activated not null, Activated = activation(C) with C's
/// leading dimension, applied to each tile of C as the micro-kernel finishes it (the last depth block), while it is in L1.
/// </summary>
internal readonly unsafe struct GemmEpilogue(float* activated, Activation activation)
{
    public float* Activated { get; } = activated;

    public Activation Activation { get; } = activation;
}

/// <summary>Which loop nest computes a product: chosen from the shape, or forced by the tests and the benchmark.</summary>
internal enum GemmPath
{
    Automatic,
    Packed,
    FewRows,
}
