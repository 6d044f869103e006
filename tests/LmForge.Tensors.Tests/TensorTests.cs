using LmForge.Tensors;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

public sealed unsafe class TensorTests
{
    [Fact]
    public void Allocate_gives_zeroed_64_byte_aligned_memory()
    {
        using var tensor = Tensor.Allocate(3, 5);
        Assert.Equal(0, (long)tensor.Pointer % 64);
        Assert.Equal(15, tensor.Length);
        Assert.All(tensor.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Views_share_the_buffer_and_do_not_free_it()
    {
        using var buffer = NativeBuffer.Allocate(100);
        var a = Tensor.View(buffer, 10, new TensorShape(2, 3));
        var b = Tensor.View(buffer, 13, new TensorShape(3));
        a.AsSpan()[3] = 7f;
        Assert.Equal(7f, b.AsSpan()[0]);
        a.Dispose();
        Assert.False(buffer.IsClosed);
        Assert.Equal(7f, buffer.AsSpan(13, 1)[0]);
    }

    [Fact]
    public void Int32_tensors_hold_ids_and_refuse_float_access()
    {
        using var ids = Tensor.AllocateInt32(2, 3);
        Assert.Equal(TensorElementType.Int32, ids.ElementType);
        Assert.Equal(0, (long)ids.IntPointer % 64);
        ids.CopyFrom([1, 2, 3, -1, 50000, 7]);
        Assert.Equal(new[] { -1, 50000, 7 }, ids.Slice(3, new TensorShape(3)).ToInt32Array());
        Assert.Equal(TensorElementType.Int32, ids.Reshape(new TensorShape(6)).ElementType);
        var ex = Assert.Throws<InvalidOperationException>(() => ids.AsSpan());
        Assert.Contains("Int32", ex.Message);
        using var floats = Tensor.Allocate(3);
        Assert.Throws<InvalidOperationException>(() => floats.AsInt32Span());
        Assert.Throws<ShapeMismatchException>(() => ids.CopyFrom([1, 2]));
    }

    [Fact]
    public void Dispose_releases_owned_memory()
    {
        var tensor = Tensor.Allocate(4);
        tensor.Dispose();
        Assert.True(tensor.Buffer.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => tensor.AsSpan());
    }

    [Fact]
    public void View_outside_buffer_throws()
    {
        using var buffer = NativeBuffer.Allocate(10);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.View(buffer, 5, new TensorShape(2, 3)));
        Assert.Contains("(2, 3)", ex.Message);
    }

    [Fact]
    public void Reshape_to_other_length_names_both_shapes()
    {
        using var tensor = Tensor.Allocate(2, 3);
        var ex = Assert.Throws<ShapeMismatchException>(() => tensor.Reshape(new TensorShape(4, 2)));
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(4, 2)", ex.Message);
    }

    [Fact]
    public void Negative_dimension_throws()
    {
        Assert.Throws<ArgumentException>(() => new TensorShape(2, -1));
    }
}

/// <summary>Bad input to the backend is a clear exception naming what is wrong, never a native fault.</summary>
public sealed class BackendInputTests
{
    private readonly IBackend _backend = CpuBackend.Shared;

    [Fact]
    public void LinearForward_with_mismatched_input_names_both_shapes()
    {
        using var output = Tensor.Allocate(4, 6);
        using var input = Tensor.Allocate(4, 5);
        using var weight = Tensor.Allocate(6, 7);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LinearForward(output, input, weight, null));
        Assert.Contains("(4, 5)", ex.Message);
        Assert.Contains("(6, 7)", ex.Message);
    }

    [Fact]
    public void LinearForward_with_wrong_output_names_both_shapes()
    {
        using var output = Tensor.Allocate(4, 5);
        using var input = Tensor.Allocate(4, 7);
        using var weight = Tensor.Allocate(6, 7);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LinearForward(output, input, weight, null));
        Assert.Contains("(4, 5)", ex.Message);
        Assert.Contains("(4, 7)", ex.Message);
    }

    [Fact]
    public void LayerNorm_with_wrong_weight_names_both_shapes()
    {
        using var x = Tensor.Allocate(2, 8);
        using var stats = Tensor.Allocate(2);
        using var weight = Tensor.Allocate(9);
        using var bias = Tensor.Allocate(8);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LayerNormForward(x, stats, stats, x, weight, bias, 1e-5f));
        Assert.Contains("(9)", ex.Message);
        Assert.Contains("(8)", ex.Message);
    }

    [Fact]
    public void LayerNormForward_Throws()
    {
        using var x = Tensor.Allocate(2, 8);
        using var stats = Tensor.Allocate(2);
        using var weight = Tensor.Allocate(8);
        using var wrongBias = Tensor.Allocate(7);
        using var ints = Tensor.AllocateInt32(2, 8);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LayerNormForward(x, stats, stats, x, weight, wrongBias, 1e-5f));
        Assert.StartsWith("LayerNormForward: bias has shape (7), expected (8)", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.LayerNormForward(x, stats, stats, x, weight, null, -1e-5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.LayerNormForward(x, stats, stats, x, weight, null, float.NaN));
        var typeEx = Assert.Throws<ArgumentException>(() => _backend.LayerNormForward(x, stats, stats, ints, weight, null, 1e-5f));
        Assert.Contains("LayerNormForward: input is a Int32 tensor of shape (2, 8), expected Float32", typeEx.Message);
    }

    [Fact]
    public void LayerNormBackward_Throws()
    {
        using var x = Tensor.Allocate(2, 8);
        using var stats = Tensor.Allocate(2);
        using var weight = Tensor.Allocate(8);
        using var wrong = Tensor.Allocate(9);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LayerNormBackward(x, weight, wrong, x, x, weight, stats, stats));
        Assert.StartsWith("LayerNormBackward: biasGrad has shape (9), expected (8)", ex.Message);
        Assert.Throws<ShapeMismatchException>(() => _backend.LayerNormBackward(x, wrong, null, x, x, weight, stats, stats));
    }

    [Fact]
    public void RmsNormForward_Throws()
    {
        using var x = Tensor.Allocate(3, 8);
        using var rstd = Tensor.Allocate(3);
        using var weight = Tensor.Allocate(8);
        using var wrongWeight = Tensor.Allocate(4);
        using var wrongRstd = Tensor.Allocate(2);
        using var wrongOutput = Tensor.Allocate(8, 3);
        Assert.StartsWith("RmsNormForward: weight has shape (4), expected (8)",
            Assert.Throws<ShapeMismatchException>(() => _backend.RmsNormForward(x, rstd, x, wrongWeight, 1e-6f)).Message);
        Assert.StartsWith("RmsNormForward: rstd has shape (2), expected 3 elements",
            Assert.Throws<ShapeMismatchException>(() => _backend.RmsNormForward(x, wrongRstd, x, weight, 1e-6f)).Message);
        Assert.StartsWith("RmsNormForward: output has shape (8, 3), expected the shape of input (3, 8)",
            Assert.Throws<ShapeMismatchException>(() => _backend.RmsNormForward(wrongOutput, rstd, x, weight, 1e-6f)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RmsNormForward(x, rstd, x, weight, float.PositiveInfinity));
    }

    [Fact]
    public void RmsNormBackward_Throws()
    {
        using var x = Tensor.Allocate(3, 8);
        using var rstd = Tensor.Allocate(3);
        using var weight = Tensor.Allocate(8);
        using var wrong = Tensor.Allocate(3, 9);
        Assert.StartsWith("RmsNormBackward: inputGrad has shape (3, 9)",
            Assert.Throws<ShapeMismatchException>(() => _backend.RmsNormBackward(wrong, weight, x, x, weight, rstd)).Message);
        Assert.StartsWith("RmsNormBackward: outputGrad has shape (3, 9)",
            Assert.Throws<ShapeMismatchException>(() => _backend.RmsNormBackward(x, weight, wrong, x, weight, rstd)).Message);
    }

    [Fact]
    public void ActivationForward_Throws()
    {
        using var x = Tensor.Allocate(2, 8);
        using var wrong = Tensor.Allocate(2, 9);
        using var ints = Tensor.AllocateInt32(2, 8);
        Assert.StartsWith("ActivationForward: output has shape (2, 9), expected the shape of input (2, 8)",
            Assert.Throws<ShapeMismatchException>(() => _backend.ActivationForward(wrong, x, Activation.GeluExact)).Message);
        Assert.Contains("ActivationForward: unknown activation 42",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.ActivationForward(x, x, (Activation)42)).Message);
        Assert.Contains("ActivationForward: output is a Int32 tensor",
            Assert.Throws<ArgumentException>(() => _backend.ActivationForward(ints, x, Activation.Relu)).Message);
    }

    [Fact]
    public void ActivationBackward_Throws()
    {
        using var x = Tensor.Allocate(2, 8);
        using var wrong = Tensor.Allocate(16);
        Assert.StartsWith("ActivationBackward: outputGrad has shape (16)",
            Assert.Throws<ShapeMismatchException>(() => _backend.ActivationBackward(x, x, wrong, Activation.Silu)).Message);
        Assert.StartsWith("ActivationBackward: inputGrad has shape (16)",
            Assert.Throws<ShapeMismatchException>(() => _backend.ActivationBackward(wrong, x, x, Activation.Silu)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.ActivationBackward(x, x, x, (Activation)(-1)));
    }

    [Fact]
    public void GatedActivationForward_Throws()
    {
        using var gateUp = Tensor.Allocate(3, 16);
        using var odd = Tensor.Allocate(3, 15);
        using var output = Tensor.Allocate(3, 8);
        using var wrongOutput = Tensor.Allocate(3, 16);
        Assert.StartsWith("GatedActivationForward: gateUp has shape (3, 15), expected an even last dimension",
            Assert.Throws<ShapeMismatchException>(() => _backend.GatedActivationForward(output, odd, Activation.Silu)).Message);
        Assert.StartsWith("GatedActivationForward: output has shape (3, 16), expected 3 rows of 8 for gateUp (3, 16)",
            Assert.Throws<ShapeMismatchException>(() => _backend.GatedActivationForward(wrongOutput, gateUp, Activation.Silu)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.GatedActivationForward(output, gateUp, (Activation)4));
    }

    [Fact]
    public void GatedActivationBackward_Throws()
    {
        using var gateUp = Tensor.Allocate(3, 16);
        using var outputGrad = Tensor.Allocate(3, 8);
        using var wrongGrad = Tensor.Allocate(3, 8);
        using var wrongOutputGrad = Tensor.Allocate(4, 8);
        Assert.StartsWith("GatedActivationBackward: gateUpGrad has shape (3, 8), expected the shape of gateUp (3, 16)",
            Assert.Throws<ShapeMismatchException>(() => _backend.GatedActivationBackward(wrongGrad, gateUp, outputGrad, Activation.Silu)).Message);
        Assert.StartsWith("GatedActivationBackward: outputGrad has shape (4, 8), expected 3 rows of 8",
            Assert.Throws<ShapeMismatchException>(() => _backend.GatedActivationBackward(gateUp, gateUp, wrongOutputGrad, Activation.Silu)).Message);
    }

    [Fact]
    public void RotaryForward_Throws()
    {
        using var x = Tensor.Allocate(2, 3, 40);
        using var positions = Tensor.AllocateInt32(2, 3);
        using var floatPositions = Tensor.Allocate(6);
        using var fewPositions = Tensor.AllocateInt32(5);
        Assert.Contains("RotaryForward: headSize 7 must be even",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, 0, 2, 7, 10000f)).Message);
        Assert.Contains("RotaryForward: 3 heads of 16 from column 0 do not fit in the 40 columns of x (2, 3, 40)",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, 0, 3, 16, 10000f)).Message);
        Assert.Contains("RotaryForward: 2 heads of 16 from column 9 do not fit",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, 9, 2, 16, 10000f)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, -1, 2, 16, 10000f));
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, 0, 0, 16, 10000f));
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryForward(x, positions, 0, 2, 16, 0f));
        Assert.Contains("RotaryForward: positions is a Float32 tensor of shape (6), expected Int32",
            Assert.Throws<ArgumentException>(() => _backend.RotaryForward(x, floatPositions, 0, 2, 16, 10000f)).Message);
        Assert.StartsWith("RotaryForward: positions has shape (5), expected 6 elements, one per row of x (2, 3, 40)",
            Assert.Throws<ShapeMismatchException>(() => _backend.RotaryForward(x, fewPositions, 0, 2, 16, 10000f)).Message);
    }

    [Fact]
    public void RotaryBackward_Throws()
    {
        using var x = Tensor.Allocate(6, 40);
        using var positions = Tensor.AllocateInt32(6);
        using var floatPositions = Tensor.Allocate(6);
        Assert.Contains("RotaryBackward: 2 heads of 32 from column 0 do not fit in the 40 columns of xGrad (6, 40)",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryBackward(x, positions, 0, 2, 32, 10000f)).Message);
        Assert.Contains("RotaryBackward: positions is a Float32 tensor",
            Assert.Throws<ArgumentException>(() => _backend.RotaryBackward(x, floatPositions, 0, 2, 16, 10000f)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.RotaryBackward(x, positions, 0, 1, 4096, 10000f));
    }

    [Fact]
    public void EmbeddingForward_Throws()
    {
        using var table = Tensor.Allocate(10, 4);
        using var output = Tensor.Allocate(1, 3, 4);
        using var ids = TestData.Ints([1, 10, 2]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _backend.EmbeddingForward(output, ids, table, accumulate: false));
        Assert.StartsWith("EmbeddingForward: ids[1] = 10 is outside [0, 10), the rows of table (10, 4)", ex.Message);
        using var negative = TestData.Ints([1, 2, -1]);
        Assert.Contains("ids[2] = -1", Assert.Throws<ArgumentOutOfRangeException>(() => _backend.EmbeddingForward(output, negative, table, accumulate: true)).Message);
        using var floatIds = Tensor.Allocate(3);
        Assert.Contains("EmbeddingForward: ids is a Float32 tensor of shape (3), expected Int32",
            Assert.Throws<ArgumentException>(() => _backend.EmbeddingForward(output, floatIds, table, accumulate: false)).Message);
        using var fewIds = TestData.Ints([1, 2]);
        Assert.StartsWith("EmbeddingForward: ids has shape (2), expected 3 elements, one per row of output (1, 3, 4)",
            Assert.Throws<ShapeMismatchException>(() => _backend.EmbeddingForward(output, fewIds, table, accumulate: false)).Message);
        using var wide = Tensor.Allocate(1, 3, 5);
        Assert.StartsWith("EmbeddingForward: output has shape (1, 3, 5), expected last dimension 4 to match table (10, 4)",
            Assert.Throws<ShapeMismatchException>(() => _backend.EmbeddingForward(wide, ids, table, accumulate: false)).Message);
        using var flatTable = Tensor.Allocate(40);
        Assert.Throws<ShapeMismatchException>(() => _backend.EmbeddingForward(output, ids, flatTable, accumulate: false));
    }

    [Fact]
    public void EmbeddingBackward_Throws()
    {
        using var tableGrad = Tensor.Allocate(10, 4);
        using var outputGrad = Tensor.Allocate(3, 4);
        using var ids = TestData.Ints([1, 2, 12]);
        Assert.StartsWith("EmbeddingBackward: ids[2] = 12 is outside [0, 10), the rows of tableGrad (10, 4)",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.EmbeddingBackward(tableGrad, outputGrad, ids)).Message);
        using var narrow = Tensor.Allocate(10, 3);
        using var goodIds = TestData.Ints([1, 2, 3]);
        Assert.StartsWith("EmbeddingBackward: outputGrad has shape (3, 4), expected last dimension 3 to match tableGrad (10, 3)",
            Assert.Throws<ShapeMismatchException>(() => _backend.EmbeddingBackward(narrow, outputGrad, goodIds)).Message);
        Assert.All(tableGrad.ToArray(), v => Assert.Equal(0f, v)); // nothing written before the check failed
    }

    [Fact]
    public void CrossEntropyForward_Throws()
    {
        using var logits = Tensor.Allocate(2, 16);
        using var losses = Tensor.Allocate(2);
        using var targets = TestData.Ints([3, 13]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _backend.CrossEntropyForward(losses, logits, targets, 13));
        Assert.StartsWith("CrossEntropyForward: targets[1] = 13 is outside [-1, 13), the vocabulary (-1 = ignored)", ex.Message);
        using var belowIgnore = TestData.Ints([-2, 1]);
        Assert.Contains("targets[0] = -2", Assert.Throws<ArgumentOutOfRangeException>(() => _backend.CrossEntropyForward(losses, logits, belowIgnore, 13)).Message);
        using var one = TestData.Ints([3]);
        Assert.StartsWith("CrossEntropyForward: targets has shape (1), expected 2 elements, one per row of logits (2, 16)",
            Assert.Throws<ShapeMismatchException>(() => _backend.CrossEntropyForward(losses, logits, one, 13)).Message);
        using var floatTargets = Tensor.Allocate(2);
        Assert.Contains("CrossEntropyForward: targets is a Float32 tensor",
            Assert.Throws<ArgumentException>(() => _backend.CrossEntropyForward(losses, logits, floatTargets, 13)).Message);
    }

    [Fact]
    public void CrossEntropyBackward_Throws()
    {
        using var logits = Tensor.Allocate(2, 16);
        using var losses = Tensor.Allocate(2);
        using var targets = TestData.Ints([3, 20]);
        Assert.StartsWith("CrossEntropyBackward: targets[1] = 20 is outside [-1, 13)",
            Assert.Throws<ArgumentOutOfRangeException>(() => _backend.CrossEntropyBackward(logits, logits, losses, targets, 13, 1f)).Message);
        using var goodTargets = TestData.Ints([3, 2]);
        using var wrongGrad = Tensor.Allocate(2, 15);
        Assert.Throws<ShapeMismatchException>(() => _backend.CrossEntropyBackward(wrongGrad, logits, losses, goodTargets, 13, 1f));
    }

    private static readonly Activation[] AllActivations = [Activation.GeluTanh, Activation.GeluExact, Activation.Relu, Activation.Silu];

    [Fact]
    public void Embedding_norm_activation_rotary_and_loss_calls_allocate_nothing()
    {
        // Shapes large enough to be split across the pool's workers; the checks (including the id scans) allocate only to throw.
        const int rows = 256, channels = 64, vocab = 50, heads = 4, headSize = 16;
        var random = TestData.NewRandom();
        using var table = TestData.Random(random, 1f, vocab, channels);
        using var ids = TestData.Ints(Enumerable.Range(0, rows).Select(i => i % vocab).ToArray());
        using var x = TestData.Random(random, 1f, rows, channels);
        using var y = Tensor.Allocate(rows, channels);
        using var gateUp = TestData.Random(random, 1f, rows, 2 * channels);
        using var gateUpGrad = Tensor.Allocate(rows, 2 * channels);
        using var weight = TestData.Random(random, 1f, channels);
        using var weightGrad = Tensor.Allocate(channels);
        using var stats = Tensor.Allocate(rows);
        using var stats2 = Tensor.Allocate(rows);
        using var logits = TestData.Random(random, 1f, rows, vocab);
        using var losses = Tensor.Allocate(rows);
        void Calls()
        {
            _backend.EmbeddingForward(y, ids, table, accumulate: false);
            _backend.EmbeddingForward(y, ids, table, accumulate: true);
            _backend.EmbeddingBackward(table, y, ids);
            _backend.LayerNormForward(y, stats, stats2, x, weight, null, 1e-5f);
            _backend.LayerNormBackward(y, weightGrad, null, x, x, weight, stats, stats2);
            _backend.RmsNormForward(y, stats, x, weight, 1e-6f);
            _backend.RmsNormBackward(y, weightGrad, x, x, weight, stats);
            foreach (var activation in AllActivations)
            {
                _backend.ActivationForward(y, x, activation);
                _backend.ActivationBackward(y, x, y, activation);
                _backend.GatedActivationForward(y, gateUp, activation);
                _backend.GatedActivationBackward(gateUpGrad, gateUp, y, activation);
            }
            _backend.RotaryForward(y, ids, 0, heads, headSize, 10000f);
            _backend.RotaryBackward(y, ids, 0, heads, headSize, 10000f);
            _backend.CrossEntropyForward(losses, logits, ids, vocab);
            _backend.CrossEntropyBackward(logits, logits, losses, ids, vocab, 1f);
        }
        Assert.Equal(0, AllocationMeter.BytesAllocatedBy(Calls, Calls));
    }

    [Fact]
    public void AdamW_with_mismatched_moments_names_both_shapes()
    {
        using var p = Tensor.Allocate(10);
        using var m = Tensor.Allocate(11);
        var update = new AdamWUpdate(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.AdamW(p, p, m, p, update, 0));
        Assert.Contains("(10)", ex.Message);
        Assert.Contains("(11)", ex.Message);
    }
}
