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
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.LayerNormForward(x, stats, stats, x, weight, bias));
        Assert.Contains("(9)", ex.Message);
        Assert.Contains("(8)", ex.Message);
    }

    [Fact]
    public void Token_outside_vocabulary_is_a_clear_error()
    {
        using var wte = Tensor.Allocate(10, 4);
        using var wpe = Tensor.Allocate(8, 4);
        using var output = Tensor.Allocate(1, 3, 4);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _backend.EncoderForward(output, [1, 10, 2], wte, wpe));
        Assert.Contains("token id 10 at index 1", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.EncoderForward(output, [1, -1, 2], wte, wpe));
    }

    [Fact]
    public void Sequence_longer_than_position_table_is_a_clear_error()
    {
        using var wte = Tensor.Allocate(10, 4);
        using var wpe = Tensor.Allocate(2, 4);
        using var output = Tensor.Allocate(1, 3, 4);
        var ex = Assert.Throws<ShapeMismatchException>(() => _backend.EncoderForward(output, [1, 2, 3], wte, wpe));
        Assert.Contains("(2, 4)", ex.Message);
    }

    [Fact]
    public void CrossEntropy_target_outside_vocabulary_is_a_clear_error()
    {
        using var logits = Tensor.Allocate(2, 16);
        using var losses = Tensor.Allocate(2);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _backend.CrossEntropyForward(losses, logits, [3, 13], 13));
        Assert.Contains("token id 13 at index 1", ex.Message);
        Assert.Throws<ArgumentException>(() => _backend.CrossEntropyForward(losses, logits, [3], 13));
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
