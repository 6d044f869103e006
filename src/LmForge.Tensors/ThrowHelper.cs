using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace LmForge.Tensors;

/// <summary>Cold throw paths, kept out of line so that the checked methods stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowNotHostAddressable() => throw new InvalidOperationException(
        "this tensor's memory belongs to a backend that does not expose it to the host; copy it with IBackend.CopyToHost / CopyFromHost");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowShapeMismatch(string operation, string name, TensorShape actual, TensorShape expected) =>
        throw new ShapeMismatchException($"{operation}: {name} has shape {actual}, expected {expected}");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowElementType(Tensor tensor, TensorElementType expected) =>
        throw new InvalidOperationException($"{tensor} holds {tensor.ElementType} elements, expected {expected}");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowElementType(string operation, string name, Tensor tensor, TensorElementType expected) =>
        throw new ArgumentException($"{operation}: {name} is a {tensor.ElementType} tensor of shape {tensor.Shape}, expected {expected} elements", name);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowShapeMismatch(string message) => throw new ShapeMismatchException(message);
}

/// <summary>Thrown when a tensor's shape does not match what an operation needs; the message names both shapes.</summary>
public sealed class ShapeMismatchException : ArgumentException
{
    public ShapeMismatchException() { }

    public ShapeMismatchException(string message) : base(message) { }

    public ShapeMismatchException(string message, Exception innerException) : base(message, innerException) { }
}
