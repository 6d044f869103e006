using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Gated activation of a gated MLP (SwiGLU: f = SiLU; GeGLU: f = GELU): out = f(gate) ⊙ up.</summary>
internal static unsafe class GatedActivationKernel
{
    // out is (N,I), gateUp is (N,2I) = [gate | up] per row: out = f(gate)·up
    public static void Forward(WorkerPool pool, float* output, float* gateUp, int rows, int width, Activation activation)
    {
        switch (activation)
        {
            case Activation.GeluTanh: Forward<GeluTanhFunction>(pool, output, gateUp, rows, width); break;
            case Activation.GeluExact: Forward<GeluExactFunction>(pool, output, gateUp, rows, width); break;
            case Activation.Relu: Forward<ReluFunction>(pool, output, gateUp, rows, width); break;
            case Activation.Silu: Forward<SiluFunction>(pool, output, gateUp, rows, width); break;
            default: ActivationKernel.ThrowUnknown(activation); break;
        }
    }

    // dgateUp (N,2I) is overwritten: dgate = dout·up·f'(gate), dup = dout·f(gate); dout is (N,I)
    public static void Backward(WorkerPool pool, float* dgateUp, float* gateUp, float* doutput, int rows, int width, Activation activation)
    {
        switch (activation)
        {
            case Activation.GeluTanh: Backward<GeluTanhFunction>(pool, dgateUp, gateUp, doutput, rows, width); break;
            case Activation.GeluExact: Backward<GeluExactFunction>(pool, dgateUp, gateUp, doutput, rows, width); break;
            case Activation.Relu: Backward<ReluFunction>(pool, dgateUp, gateUp, doutput, rows, width); break;
            case Activation.Silu: Backward<SiluFunction>(pool, dgateUp, gateUp, doutput, rows, width); break;
            default: ActivationKernel.ThrowUnknown(activation); break;
        }
    }

    private static int MinRowsPerWorker(int width) => Math.Max(1, 8192 / width);

    private static void Forward<TFunction>(WorkerPool pool, float* output, float* gateUp, int rows, int width)
        where TFunction : struct, IActivationFunction
    {
        var op = new ForwardRows<TFunction> { Output = output, GateUp = gateUp, Width = width };
        pool.Run(rows, MinRowsPerWorker(width), ref op);
    }

    private static void Backward<TFunction>(WorkerPool pool, float* dgateUp, float* gateUp, float* doutput, int rows, int width)
        where TFunction : struct, IActivationFunction
    {
        var op = new BackwardRows<TFunction> { DgateUp = dgateUp, GateUp = gateUp, Doutput = doutput, Width = width };
        pool.Run(rows, MinRowsPerWorker(width), ref op);
    }

    private struct ForwardRows<TFunction> : IRangeOperation
        where TFunction : struct, IActivationFunction
    {
        public float* Output, GateUp;
        public int Width;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int n = Width;
            for (int row = start; row < end; row++)
            {
                float* gate = GateUp + (2L * row * n);
                float* up = gate + n;
                float* y = Output + ((long)row * n);
                int i = 0;
                if (VectorMath.IsAccelerated)
                {
                    for (; i <= n - 8; i += 8) Vector256.Store(TFunction.Value(Vector256.Load(gate + i)) * Vector256.Load(up + i), y + i);
                }
                for (; i < n; i++) y[i] = TFunction.Value(gate[i]) * up[i];
            }
        }
    }

    private struct BackwardRows<TFunction> : IRangeOperation
        where TFunction : struct, IActivationFunction
    {
        public float* DgateUp, GateUp, Doutput;
        public int Width;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int n = Width;
            for (int row = start; row < end; row++)
            {
                float* gate = GateUp + (2L * row * n);
                float* up = gate + n;
                float* dgate = DgateUp + (2L * row * n);
                float* dup = dgate + n;
                float* dy = Doutput + ((long)row * n);
                int i = 0;
                if (VectorMath.IsAccelerated)
                {
                    for (; i <= n - 8; i += 8)
                    {
                        var g = Vector256.Load(dy + i);
                        var derivative = TFunction.Derivative(Vector256.Load(gate + i), out var value);
                        var u = Vector256.Load(up + i);
                        Vector256.Store(g * u * derivative, dgate + i);
                        Vector256.Store(g * value, dup + i);
                    }
                }
                for (; i < n; i++)
                {
                    float g = dy[i];
                    float derivative = TFunction.Derivative(gate[i], out float value);
                    float u = up[i];
                    dgate[i] = g * u * derivative;
                    dup[i] = g * value;
                }
            }
        }
    }
}
