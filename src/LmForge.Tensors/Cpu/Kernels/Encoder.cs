namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>Token + position embedding (GPT-2's "encoder").</summary>
internal static unsafe class Encoder
{
    // out is (B,T,C), tokens is (B,T), wte is (V,C), wpe is (maxT,C)
    public static void Forward(WorkerPool pool, float* output, int* tokens, float* wte, float* wpe, int batchSize, int tokenCount, int channels)
    {
        var op = new ForwardRows { Output = output, Tokens = tokens, Wte = wte, Wpe = wpe, TokenCount = tokenCount, Channels = channels };
        pool.Run(batchSize * tokenCount, Math.Max(1, 16384 / channels), ref op);
    }

    // dwte is (V,C), dwpe is (maxT,C), dout is (B,T,C); both gradients are accumulated into.
    // Several positions may hold the same token, so workers split the channels, not the rows: no two write the same float.
    public static void Backward(WorkerPool pool, float* dwte, float* dwpe, float* dout, int* tokens, int batchSize, int tokenCount, int channels)
    {
        var op = new BackwardChannels
        {
            Dwte = dwte, Dwpe = dwpe, Dout = dout, Tokens = tokens,
            BatchSize = batchSize, TokenCount = tokenCount, Channels = channels,
        };
        int blocks = (channels + ChannelBlock - 1) / ChannelBlock;
        pool.Run(blocks, Math.Max(1, 16384 / Math.Max(1, batchSize * tokenCount * ChannelBlock)), ref op);
    }

    private const int ChannelBlock = 32;

    private struct ForwardRows : IRangeOperation
    {
        public float* Output, Wte, Wpe;
        public int* Tokens;
        public int TokenCount, Channels;

        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                float* outRow = Output + (long)row * Channels;
                float* tokenRow = Wte + (long)Tokens[row] * Channels;
                float* positionRow = Wpe + (long)(row % TokenCount) * Channels;
                for (int c = 0; c < Channels; c++) outRow[c] = tokenRow[c] + positionRow[c];
            }
        }
    }

    private struct BackwardChannels : IRangeOperation
    {
        public float* Dwte, Dwpe, Dout;
        public int* Tokens;
        public int BatchSize, TokenCount, Channels;

        public readonly void Invoke(int start, int end)
        {
            int c0 = start * ChannelBlock;
            int width = Math.Min(end * ChannelBlock, Channels) - c0;
            for (int b = 0; b < BatchSize; b++)
            {
                for (int t = 0; t < TokenCount; t++)
                {
                    int row = b * TokenCount + t;
                    float* d = Dout + (long)row * Channels + c0;
                    VectorMath.AddTo(d, Dwte + (long)Tokens[row] * Channels + c0, width);
                    VectorMath.AddTo(d, Dwpe + (long)t * Channels + c0, width);
                }
            }
        }
    }
}
