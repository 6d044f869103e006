using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Elementwise activation f (GELU, ReLU, SiLU; see ActivationFunctions.cs) and its backward.</summary>
internal static unsafe class ActivationKernel
{
    // out, inp are (N): out = f(inp)
    public static void Forward(WorkerPool pool, float* output, float* input, long length, Activation activation)
    {
        switch (activation)
        {
            case Activation.GeluTanh: Forward<GeluTanhFunction>(pool, output, input, length); break;
            case Activation.GeluExact: Forward<GeluExactFunction>(pool, output, input, length); break;
            case Activation.Relu: Forward<ReluFunction>(pool, output, input, length); break;
            case Activation.Silu: Forward<SiluFunction>(pool, output, input, length); break;
            default: ThrowUnknown(activation); break;
        }
    }

    // dinp, inp, dout are (N): dinp = dout·f'(inp), overwritten; dinp may alias dout.
    public static void Backward(WorkerPool pool, float* dinput, float* input, float* doutput, long length, Activation activation)
    {
        switch (activation)
        {
            case Activation.GeluTanh: Backward<GeluTanhFunction>(pool, dinput, input, doutput, length); break;
            case Activation.GeluExact: Backward<GeluExactFunction>(pool, dinput, input, doutput, length); break;
            case Activation.Relu: Backward<ReluFunction>(pool, dinput, input, doutput, length); break;
            case Activation.Silu: Backward<SiluFunction>(pool, dinput, input, doutput, length); break;
            default: ThrowUnknown(activation); break;
        }
    }

    // output[i·ld + j] = f(input[i·ld + j]) for a rows × columns tile (both with row stride ld): GEMM's output stage
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardTile(Activation activation, float* input, float* output, int ld, int rows, int columns)
    {
        switch (activation)
        {
            case Activation.GeluTanh: Tile<GeluTanhFunction>(input, output, ld, rows, columns); break;
            case Activation.GeluExact: Tile<GeluExactFunction>(input, output, ld, rows, columns); break;
            case Activation.Relu: Tile<ReluFunction>(input, output, ld, rows, columns); break;
            case Activation.Silu: Tile<SiluFunction>(input, output, ld, rows, columns); break;
            default: ThrowUnknown(activation); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TFunction>(float* input, float* output, long ld, int rows, int columns)
        where TFunction : struct, IActivationFunction
    {
        for (int r = 0; r < rows; r++, input += ld, output += ld)
        {
            int i = 0;
            if (VectorMath.IsAccelerated)
            {
                for (; i <= columns - 8; i += 8) Vector256.Store(TFunction.Value(Vector256.Load(input + i)), output + i);
            }
            for (; i < columns; i++) output[i] = TFunction.Value(input[i]);
        }
    }

    public static void ThrowUnknown(Activation activation) =>
        ThrowHelper.ThrowArgumentOutOfRange(nameof(activation), $"unknown activation {activation}");

    private const int ChunkSize = 4096;

    private static int Chunks(long length) => (int)((length + ChunkSize - 1) / ChunkSize);

    private static void Forward<TFunction>(WorkerPool pool, float* output, float* input, long length)
        where TFunction : struct, IActivationFunction
    {
        var op = new ForwardChunks<TFunction> { Output = output, Input = input, Length = length };
        pool.Run(Chunks(length), 2, ref op);
    }

    private static void Backward<TFunction>(WorkerPool pool, float* dinput, float* input, float* doutput, long length)
        where TFunction : struct, IActivationFunction
    {
        var op = new BackwardChunks<TFunction> { Dinput = dinput, Input = input, Doutput = doutput, Length = length };
        pool.Run(Chunks(length), 2, ref op);
    }

    private struct ForwardChunks<TFunction> : IRangeOperation
        where TFunction : struct, IActivationFunction
    {
        public float* Output, Input;
        public long Length;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            Tile<TFunction>(Input + i, Output + i, 0, 1, (int)(stop - i));
        }
    }

    private struct BackwardChunks<TFunction> : IRangeOperation
        where TFunction : struct, IActivationFunction
    {
        public float* Dinput, Input, Doutput;
        public long Length;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            long i = (long)start * ChunkSize;
            long stop = Math.Min((long)end * ChunkSize, Length);
            if (VectorMath.IsAccelerated)
            {
                for (; i <= stop - 8; i += 8)
                    Vector256.Store(TFunction.Derivative(Vector256.Load(Input + i), out _) * Vector256.Load(Doutput + i), Dinput + i);
            }
            for (; i < stop; i++) Dinput[i] = TFunction.Derivative(Input[i], out _) * Doutput[i];
        }
    }
}
