using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

// Gemm.Multiply against a double-precision triple loop written from the definition.
// Tolerance: the standard forward error bound of a float32 dot product of length k,
// |ours - exact| <= 2·(k + 2)·u·(Σ_p |a_ip·b_pj| + |bias_j| + |c0_ij|) with u = 2^-24;
// a wrong index or a missed panel produces errors of the size of the values themselves.
public sealed unsafe class GemmTests
{
    private static readonly int[] Sizes = [1, 2, 5, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129, 257];

    public static TheoryData<bool, bool> Forms => new()
    {
        { false, false }, { false, true }, { true, false }, { true, true },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void Multiply_RandomShapes_MatchesDoubleReference(bool transposeA, bool transposeB)
    {
        var random = new Random(20230828 + (transposeA ? 2 : 0) + (transposeB ? 1 : 0));
        for (int trial = 0; trial < 60; trial++)
        {
            int m = Sizes[random.Next(Sizes.Length)];
            int n = Sizes[random.Next(Sizes.Length)];
            int k = Sizes[random.Next(Sizes.Length)];
            var options = new ProductCase(transposeA, transposeB, m, n, k)
            {
                PadA = random.Next(4), PadB = random.Next(4), PadC = random.Next(4),
                Accumulate = random.Next(2) == 1, WithBias = random.Next(2) == 1,
            };
            options.Check(random, WorkerPool.Shared);
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void Multiply_EveryEdgeSize_MatchesDoubleReference(bool transposeA, bool transposeB)
    {
        // Every size once in each dimension, against fixed sizes in the other two: all edge-tile remainders.
        var random = new Random(20230828);
        foreach (int size in Sizes)
        {
            new ProductCase(transposeA, transposeB, size, 17, 33) { WithBias = true }.Check(random, WorkerPool.Shared);
            new ProductCase(transposeA, transposeB, 33, size, 17) { Accumulate = true }.Check(random, WorkerPool.Shared);
            new ProductCase(transposeA, transposeB, 17, 33, size) { PadA = 3, PadB = 1 }.Check(random, WorkerPool.Shared);
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void Multiply_LargerThanEveryCacheBlock_MatchesDoubleReference(bool transposeA, bool transposeB)
    {
        // n crosses the Nc column block, m the Mc row block, k the Kc depth block, with bias and accumulate,
        // through both parallel splits (column slices when C is wide, row slices when it is tall).
        var random = new Random(20230828);
        var wide = new ProductCase(transposeA, transposeB, 13, GemmKernel.Nc + 37, GemmKernel.Kc + 3)
        {
            Accumulate = true, WithBias = true, PadC = 2,
        };
        wide.Check(random, WorkerPool.Shared);
        // Many rows and n again crossing Nc: column slices with several row blocks each.
        var wideAndTall = new ProductCase(transposeA, transposeB, 101, GemmKernel.Nc + 21, GemmKernel.Kc + 5)
        {
            Accumulate = true, WithBias = true, PadB = 3,
        };
        wideAndTall.Check(random, WorkerPool.Shared);
        var tall = new ProductCase(transposeA, transposeB, GemmKernel.Mc * 2 + 5, 40, 2 * GemmKernel.Kc + 1)
        {
            Accumulate = true, WithBias = true, PadA = 1,
        };
        tall.Check(random, WorkerPool.Shared);
    }

    // GemmPath by name: the enum is internal to the library.
    public static TheoryData<string> LinearForwardPaths => new() { "Automatic", "FewRows", "Packed" };

    [Theory]
    [MemberData(nameof(LinearForwardPaths))]
    public void Multiply_LinearForwardEveryRowCount_MatchesDoubleReference(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        // A linear layer's forward product A·Bᵀ for every row count across the few-rows/packed crossover, with sizes
        // that are not multiples of any vector width or tile (n = 4·q + 1..3 leaves a partial block of B rows), bias
        // and accumulate, padded leading dimensions. Automatic runs whichever path Gemm chooses for each row count;
        // the forced paths check both kernels on every count whichever one is chosen.
        var random = new Random(20230828 + (int)path);
        for (int m = 1; m <= 70; m++)
        {
            foreach (var (n, k) in new[] { (37, 77), (6, 257), (1, 15), (43, 8), (9, 33) })
            {
                new ProductCase(false, true, m, n, k)
                {
                    Path = path, PadA = random.Next(3), PadB = random.Next(3), PadC = random.Next(3),
                    Accumulate = random.Next(2) == 1, WithBias = random.Next(2) == 1,
                }.Check(random, WorkerPool.Shared);
            }
        }
    }

    [Theory]
    [MemberData(nameof(LinearForwardPaths))]
    public void Multiply_LinearForwardSplitAcrossWorkers_MatchesDoubleReference(string pathName)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        // Products large enough to be split across the pool: decode-sized (one row, many output channels) and a few
        // rows, n not a multiple of the 4-row blocks, with pools of 2, 3 and 5 workers.
        var random = new Random(20230828);
        foreach (int workers in new[] { 2, 3, 5 })
        {
            using var pool = new WorkerPool(workers);
            foreach (int m in new[] { 1, 2, 3, 5, 16, 17 })
            {
                new ProductCase(false, true, m, 1031, 301) { Path = path, WithBias = true, PadB = 1 }.Check(random, pool);
                new ProductCase(false, true, m, 2050, 130) { Path = path, Accumulate = true, PadA = 2 }.Check(random, pool);
            }
        }
    }

    [Fact]
    public void Multiply_FewRowsPath_RefusesOtherForms()
    {
        var buffer = new float[16];
        fixed (float* p = buffer)
        {
            float* q = p;
            foreach (var (transposeA, transposeB) in new[] { (false, false), (true, false), (true, true) })
            {
                Assert.Equal("path", Assert.Throws<ArgumentException>(() => Gemm.Multiply(
                    WorkerPool.Shared, GemmPath.FewRows, transposeA, transposeB, 2, 2, 2, q, 2, q, 2, q, 2)).ParamName);
            }
        }
    }

    [Fact]
    public void Multiply_ChoosesFewRowsOnlyForLinearForwardWithFewRows()
    {
        Assert.True(Gemm.ChoosesFewRows(false, true, 1));
        Assert.True(Gemm.ChoosesFewRows(false, true, GemmFewRows.MaxRows));
        Assert.False(Gemm.ChoosesFewRows(false, true, GemmFewRows.MaxRows + 1));
        Assert.False(Gemm.ChoosesFewRows(false, false, 1));
        Assert.False(Gemm.ChoosesFewRows(true, true, 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public void Multiply_AnyWorkerCount_MatchesDoubleReference(int workerCount)
    {
        var pool = new WorkerPool(workerCount);
        var random = new Random(20230828);
        foreach (var (m, n, k) in new[] { (100, 257, 129), (257, 100, 64), (64, 64, 64), (7, 1000, 100), (1, 1001, 300) })
        {
            new ProductCase(false, true, m, n, k) { WithBias = true }.Check(random, pool);
            new ProductCase(false, false, m, n, k) { Accumulate = true }.Check(random, pool);
            new ProductCase(true, false, m, n, k) { Accumulate = true, PadB = 2 }.Check(random, pool);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Multiply_EmptyDepth_AppliesBiasAndAccumulate(bool accumulate, bool withBias)
    {
        float[] c = [1f, 2f, 3f, 4f, 5f, 6f];
        float[] bias = [10f, 20f, 30f];
        fixed (float* pc = c, pbias = bias)
        {
            Gemm.Multiply(false, true, 2, 3, 0, null, 1, null, 1, pc, 3, accumulate, withBias ? pbias : null);
        }
        for (int i = 0; i < 6; i++)
        {
            float expected = (accumulate ? i + 1 : 0f) + (withBias ? bias[i % 3] : 0f);
            Assert.Equal(expected, c[i]);
        }
    }

    [Fact]
    public void Multiply_SmallKnownProduct_MatchesHandComputedValues()
    {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154], plus bias [1, -1].
        float[] a = [1, 2, 3, 4, 5, 6];
        float[] b = [7, 8, 9, 10, 11, 12];
        float[] bias = [1, -1];
        var c = new float[4];
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            Gemm.Multiply(false, false, 2, 2, 3, pa, 3, pb, 2, pc, 2, bias: pbias);
        }
        Assert.Equal([59f, 63f, 140f, 153f], c);
    }

    [Fact]
    public void Multiply_AfterWarmUp_AllocatesNothing()
    {
        // 64·512·64 multiply-adds: large enough to be split across the pool. Warm-up lets the JIT tier up.
        var a = new float[64 * 64];
        var b = new float[512 * 64];
        var c = new float[64 * 512];
        void Multiply(int times)
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                for (int run = 0; run < times; run++) Gemm.Multiply(false, true, 64, 512, 64, pa, 64, pb, 64, pc, 512);
            }
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(() => Multiply(200), () => Multiply(20)));
    }

    [Fact]
    public void Multiply_FewRowsAfterWarmUp_AllocatesNothing()
    {
        // One row against 4096×256: the decode case, split across the pool.
        var a = new float[256];
        var b = new float[4096 * 256];
        var c = new float[4096];
        var bias = new float[4096];
        void Multiply(int times)
        {
            fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            {
                for (int run = 0; run < times; run++) Gemm.Multiply(false, true, 1, 4096, 256, pa, 256, pb, 256, pc, 4096, bias: pbias);
            }
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(() => Multiply(200), () => Multiply(20)));
    }

    [Fact]
    public void Multiply_BadArguments_ThrowNamingTheArgument()
    {
        var buffer = new float[64];
        fixed (float* p = buffer)
        {
            float* q = p;
            Assert.Equal("m", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, false, -1, 2, 2, q, 2, q, 2, q, 2)).ParamName);
            Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, false, 2, 2, -3, q, 2, q, 2, q, 2)).ParamName);
            Assert.Equal("lda", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, false, 2, 2, 4, q, 3, q, 2, q, 2)).ParamName);
            Assert.Equal("lda", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(true, false, 5, 2, 4, q, 4, q, 2, q, 2)).ParamName);
            Assert.Equal("ldb", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, true, 2, 2, 4, q, 4, q, 3, q, 2)).ParamName);
            Assert.Equal("ldc", Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, false, 2, 3, 2, q, 2, q, 3, q, 2)).ParamName);
            Assert.Equal("b", Assert.Throws<ArgumentNullException>(
                () => Gemm.Multiply(false, false, 2, 2, 2, q, 2, null, 2, q, 2)).ParamName);
            var message = Assert.Throws<ArgumentOutOfRangeException>(
                () => Gemm.Multiply(false, false, 2, 3, 2, q, 2, q, 3, q, 2)).Message;
            Assert.Contains("ldc is 2, expected >= the row width 3", message, StringComparison.Ordinal);
        }
    }

    /// <summary>One product with random data, padded leading dimensions (padding holds NaN) and a checked result.</summary>
    private sealed class ProductCase(bool transposeA, bool transposeB, int m, int n, int k)
    {
        public int PadA { get; init; }
        public int PadB { get; init; }
        public int PadC { get; init; }
        public bool Accumulate { get; init; }
        public bool WithBias { get; init; }
        public GemmPath Path { get; init; }

        public void Check(Random random, WorkerPool pool)
        {
            int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
            int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
            int lda = aCols + PadA, ldb = bCols + PadB, ldc = n + PadC;
            float[] a = Fill(random, aRows, aCols, lda, float.NaN);
            float[] b = Fill(random, bRows, bCols, ldb, float.NaN);
            float[] c = Fill(random, m, n, ldc, -12345f);
            float[] bias = Fill(random, 1, n, n, 0f);
            float[] before = (float[])c.Clone();

            fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            {
                Gemm.Multiply(pool, Path, transposeA, transposeB, m, n, k, pa, lda, pb, ldb, pc, ldc, Accumulate,
                    WithBias ? pbias : null);
            }

            const double unitRoundoff = 1.0 / (1 << 24);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double exact = 0, magnitude = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double av = transposeA ? a[p * lda + i] : a[i * lda + p];
                        double bv = transposeB ? b[j * ldb + p] : b[p * ldb + j];
                        exact += av * bv;
                        magnitude += Math.Abs(av * bv);
                    }
                    if (WithBias) { exact += bias[j]; magnitude += Math.Abs(bias[j]); }
                    if (Accumulate) { exact += before[i * ldc + j]; magnitude += Math.Abs(before[i * ldc + j]); }
                    double tolerance = 2 * (k + 2) * unitRoundoff * magnitude + 1e-30;
                    double actual = c[i * ldc + j];
                    if (!(Math.Abs(actual - exact) <= tolerance))
                    {
                        Assert.Fail($"{Path} transposeA={transposeA} transposeB={transposeB} m={m} n={n} k={k} " +
                            $"lda={lda} ldb={ldb} ldc={ldc} accumulate={Accumulate} bias={WithBias}: " +
                            $"C[{i},{j}] = {actual}, expected {exact} ± {tolerance}");
                    }
                }
                for (int j = n; j < ldc; j++)
                {
                    Assert.Equal(before[i * ldc + j], c[i * ldc + j]);
                }
            }
        }

        private static float[] Fill(Random random, int rows, int cols, int ld, float padding)
        {
            var values = new float[Math.Max(1, rows * ld)];
            for (int r = 0; r < rows; r++)
            {
                for (int col = 0; col < ld; col++)
                {
                    values[r * ld + col] = col < cols ? (float)(random.NextDouble() * 2 - 1) : padding;
                }
            }
            return values;
        }
    }
}
