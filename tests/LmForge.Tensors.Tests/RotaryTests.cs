using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>RoPE in Hugging Face's rotate-half convention: forward against a double reference, backward as its inverse.</summary>
public sealed class RotaryTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    // transformers computes inv_freq and the angle position·inv_freq in float32 (see tests/reference/llama_torch.py),
    // so the reference does too; cos, sin and the rotation are in double.
    private static float[] InverseFrequencies(int headSize, float theta)
    {
        var invFreq = new float[headSize / 2];
        for (int i = 0; i < invFreq.Length; i++) invFreq[i] = 1f / MathF.Pow(theta, (float)(2 * i) / headSize);
        return invFreq;
    }

    private static double[] Rotated(float[] x, int[] positions, int width, int column, int headCount, int headSize, float theta)
    {
        var invFreq = InverseFrequencies(headSize, theta);
        var result = x.Select(v => (double)v).ToArray();
        int half = headSize / 2;
        for (int row = 0; row < positions.Length; row++)
        {
            for (int h = 0; h < headCount; h++)
            {
                int head = (row * width) + column + (h * headSize);
                for (int i = 0; i < half; i++)
                {
                    double angle = (float)positions[row] * invFreq[i];
                    double a = x[head + i], b = x[head + half + i];
                    result[head + i] = (a * Math.Cos(angle)) - (b * Math.Sin(angle));          // x·cos + rotate_half(x)·sin,
                    result[head + half + i] = (b * Math.Cos(angle)) + (a * Math.Sin(angle));   // rotate_half(x) = [−x₂, x₁]
                }
            }
        }
        return result;
    }

    [Fact]
    public void Rotary_pairs_channel_i_with_channel_i_plus_half_the_head()
    {
        // one head of 4 at position 1, theta 10000: inv_freq = [1, 1/100], so (x0, x2) turn by 1 rad and (x1, x3) by 0.01
        using var x = Tensor.Allocate(1, 4);
        x.CopyFrom([1f, 2f, 3f, 4f]);
        using var positions = TestData.Ints([1]);
        _backend.RotaryForward(x, positions, column: 0, headCount: 1, headSize: 4, theta: 10000f);
        double[] expected =
        [
            (1 * Math.Cos(1)) - (3 * Math.Sin(1)),
            (2 * Math.Cos(0.01)) - (4 * Math.Sin(0.01)),
            (3 * Math.Cos(1)) + (1 * Math.Sin(1)),
            (4 * Math.Cos(0.01)) + (2 * Math.Sin(0.01)),
        ];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], x.AsSpan()[i], 1e-6);
    }

    [Theory]
    [InlineData(20, 3, 7, 10000f)]    // half a head = 10: vector body and scalar tail; heads at column 7 of a wider row
    [InlineData(16, 4, 0, 500000f)]   // Llama 3's theta, vector only, heads from column 0
    [InlineData(6, 2, 5, 10000f)]     // scalar only
    public void Rotary_forward_matches_reference_at_positions_not_starting_at_zero(int headSize, int headCount, int column, float theta)
    {
        var random = TestData.NewRandom();
        int width = column + (headCount * headSize) + 9; // columns after the heads too
        const int rows = 2 * 5;
        int[] positions = [7, 8, 9, 10, 11, 1000, 1001, 1002, 1003, 4095]; // two sequences, neither starting at 0
        using var x = TestData.Random(random, 2f, 2, 5, width);
        float[] before = x.ToArray();
        using var positionIds = TestData.Ints(positions, 2, 5);
        _backend.RotaryForward(x, positionIds, column, headCount, headSize, theta);
        double[] expected = Rotated(before, positions, width, column, headCount, headSize, theta);
        for (int row = 0; row < rows; row++)
        {
            for (int c = 0; c < width; c++)
            {
                int i = (row * width) + c;
                bool inHeads = c >= column && c < column + (headCount * headSize);
                if (inHeads) Assert.True(Math.Abs(expected[i] - x.AsSpan()[i]) <= 2e-6, $"row {row} column {c}: {x.AsSpan()[i]}, expected {expected[i]}");
                else Assert.Equal(before[i], x.AsSpan()[i]); // untouched, bit for bit
            }
        }
    }

    [Fact]
    public void Rotary_backward_undoes_the_forward()
    {
        var random = TestData.NewRandom();
        const int headSize = 20, headCount = 3, column = 4, width = 70, rows = 6;
        using var x = TestData.Random(random, 2f, rows, width);
        float[] before = x.ToArray();
        using var positions = TestData.Ints([3, 17, 250, 1, 9000, 42]);
        _backend.RotaryForward(x, positions, column, headCount, headSize, 10000f);
        Assert.NotEqual(before, x.ToArray());
        _backend.RotaryBackward(x, positions, column, headCount, headSize, 10000f);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], x.AsSpan()[i], 1e-6f);
    }

    [Theory]
    [InlineData(20, 2, 3)]
    [InlineData(16, 3, 0)]
    public void Rotary_gradient_matches_finite_differences_at_non_zero_positions(int headSize, int headCount, int column)
    {
        var random = TestData.NewRandom();
        int width = column + (headCount * headSize) + 2;
        const int rows = 4;
        using var x = TestData.Random(random, 1f, rows, width);
        using var positions = TestData.Ints([5, 6, 130, 2047]);
        using var rotated = Tensor.Allocate(rows, width);
        using var r = TestData.Random(random, 1f, rows, width);
        using var dx = Tensor.Allocate(rows, width);
        dx.CopyFrom(r.AsSpan()); // the backward rotates the output gradient in place into the input gradient
        _backend.RotaryBackward(dx, positions, column, headCount, headSize, 10000f);
        GradientCheck.Check("dx", x, dx, () =>
        {
            rotated.CopyFrom(x.AsSpan());
            _backend.RotaryForward(rotated, positions, column, headCount, headSize, 10000f);
            return TestData.Dot(rotated, r);
        });
    }

    [Fact]
    public void Rotary_results_do_not_depend_on_the_worker_count()
    {
        // enough rows to be split across workers; the same rows one at a time must give the same bits
        var random = TestData.NewRandom();
        const int rows = 512, headSize = 64, headCount = 4, width = 256;
        using var x = TestData.Random(random, 1f, rows, width);
        var positionValues = Enumerable.Range(0, rows).Select(i => (i * 37) % 3000).ToArray();
        using var positions = TestData.Ints(positionValues);
        using var single = Tensor.Allocate(1, width);
        using var singlePosition = Tensor.AllocateInt32(1);
        float[] before = x.ToArray();
        _backend.RotaryForward(x, positions, 0, headCount, headSize, 10000f);
        for (int row = 0; row < rows; row += 97)
        {
            single.CopyFrom(before.AsSpan(row * width, width));
            singlePosition.CopyFrom([positionValues[row]]);
            _backend.RotaryForward(single, singlePosition, 0, headCount, headSize, 10000f);
            Assert.Equal(x.ToArray().AsSpan(row * width, width).ToArray(), single.ToArray());
        }
    }
}
