using System.Runtime.CompilerServices;
namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Embedding lookup (token, position, token-type tables): rows of a table gathered by id.</summary>
internal static unsafe class Embedding
{
    // out is (N,C), ids is (N) in [0, V), table is (V,C); out = table[ids] or, accumulating, out += table[ids]
    public static void Forward(WorkerPool pool, float* output, int* ids, float* table, int rows, int channels, bool accumulate)
    {
        var op = new ForwardRows { Output = output, Ids = ids, Table = table, Channels = channels, Accumulate = accumulate };
        pool.Run(rows, Math.Max(1, 16384 / channels), ref op);
    }

    // dtable is (V,C), accumulated into; dout is (N,C); ids is (N).
    // The same id may sit in several rows, so workers split the channels, not the rows: no two write the same float.
    public static void Backward(WorkerPool pool, float* dtable, float* doutput, int* ids, int rows, int channels)
    {
        var op = new BackwardChannels { Dtable = dtable, Doutput = doutput, Ids = ids, Rows = rows, Channels = channels };
        int blocks = (channels + ChannelBlock - 1) / ChannelBlock;
        pool.Run(blocks, Math.Max(1, 16384 / Math.Max(1, rows * ChannelBlock)), ref op);
    }

    private const int ChannelBlock = 32;

    private struct ForwardRows : IRangeOperation
    {
        public float* Output, Table;
        public int* Ids;
        public int Channels;
        public bool Accumulate;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                float* outRow = Output + ((long)row * Channels);
                float* tableRow = Table + ((long)Ids[row] * Channels);
                if (Accumulate) VectorMath.AddTo(tableRow, outRow, Channels);
                else new ReadOnlySpan<float>(tableRow, Channels).CopyTo(new Span<float>(outRow, Channels));
            }
        }
    }

    private struct BackwardChannels : IRangeOperation
    {
        public float* Dtable, Doutput;
        public int* Ids;
        public int Rows, Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            int c0 = start * ChannelBlock;
            int width = Math.Min(end * ChannelBlock, Channels) - c0;
            for (int row = 0; row < Rows; row++)
                VectorMath.AddTo(Doutput + ((long)row * Channels) + c0, Dtable + ((long)Ids[row] * Channels) + c0, width);
        }
    }
}
