namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Causal multi-head self-attention without storing the (T,T) attention matrix: the forward keeps only each softmax
/// row's log-sum-exp, and the backward recomputes the probabilities from q, k and it (as FlashAttention does).
/// </summary>
internal static unsafe class Attention
{
    // out is (B,T,C), lse is (B,NH,T), qkv is (B,T,3C) with q, k, v each (B,T,NH,hs) inside it
    // out[b,t,h] = Σ_{j≤t} softmax_j(q_t·k_j/√hs) v_j ; lse[b,h,t] = log Σ_{j≤t} exp(q_t·k_j/√hs)
    public static void Forward(WorkerPool pool, float* output, float* lse, float* qkv, int batchSize, int tokenCount, int channels, int headCount)
    {
        var op = new ForwardRows
        {
            Output = output, Lse = lse, Qkv = qkv, TokenCount = tokenCount, Channels = channels, HeadCount = headCount,
            HeadSize = channels / headCount,
        };
        pool.Run(batchSize * headCount * tokenCount, Math.Max(1, 65536 / Math.Max(1, tokenCount * channels / headCount)), ref op);
    }

    // dqkv (B,T,3C) is overwritten; dout (B,T,C); qkv, out, lse from the forward.
    // With p_tj = exp(s_tj − lse_t) and D_t = dout_t·out_t:  dv_j += p_tj·dout_t,  ds_tj = p_tj·(dout_t·v_j − D_t),
    // dq_t += ds_tj·k_j/√hs,  dk_j += ds_tj·q_t/√hs.  Each (b,h) pair writes only its own slices, so pairs run in parallel.
    public static void Backward(WorkerPool pool, float* dqkv, float* doutput, float* qkv, float* output, float* lse,
        int batchSize, int tokenCount, int channels, int headCount)
    {
        var op = new BackwardHeads
        {
            Dqkv = dqkv, Doutput = doutput, Qkv = qkv, Output = output, Lse = lse,
            TokenCount = tokenCount, Channels = channels, HeadCount = headCount, HeadSize = channels / headCount,
        };
        pool.Run(batchSize * headCount, 1, ref op);
    }

    private struct ForwardRows : IRangeOperation
    {
        public float* Output, Lse, Qkv;
        public int TokenCount, Channels, HeadCount, HeadSize;

        public readonly void Invoke(int start, int end)
        {
            int T = TokenCount, C = Channels, hs = HeadSize;
            float scale = 1f / MathF.Sqrt(hs);
            float* scores = stackalloc float[T];
            for (int index = start; index < end; index++)
            {
                int t = index % T;
                int bh = index / T;
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                float* q = Qkv + ((((long)b * T) + t) * 3 * C) + (h * hs);
                float* kBase = Qkv + ((long)b * T * 3 * C) + C + (h * hs);
                float max = float.NegativeInfinity;
                for (int j = 0; j <= t; j++)
                {
                    float s = VectorMath.Dot(q, kBase + ((long)j * 3 * C), hs) * scale;
                    scores[j] = s;
                    max = MathF.Max(max, s);
                }
                float sum = VectorMath.SumExp(scores, max, t + 1);
                VectorMath.ExpScale(scores, max, 1f / sum, scores, t + 1);
                float* o = Output + ((((long)b * T) + t) * C) + (h * hs);
                new Span<float>(o, hs).Clear();
                float* vBase = kBase + C;
                for (int j = 0; j <= t; j++) VectorMath.MultiplyAddTo(scores[j], vBase + ((long)j * 3 * C), o, hs);
                Lse[index] = max + MathF.Log(sum);
            }
        }
    }

    private struct BackwardHeads : IRangeOperation
    {
        public float* Dqkv, Doutput, Qkv, Output, Lse;
        public int TokenCount, Channels, HeadCount, HeadSize;

        public readonly void Invoke(int start, int end)
        {
            int T = TokenCount, C = Channels, hs = HeadSize;
            long rowStride = 3L * C;
            float scale = 1f / MathF.Sqrt(hs);
            float* p = stackalloc float[T];
            for (int bh = start; bh < end; bh++)
            {
                int h = bh % HeadCount;
                int b = bh / HeadCount;
                long batchOffset = (long)b * T * rowStride;
                float* qBase = Qkv + batchOffset + (h * hs);
                float* kBase = qBase + C;
                float* vBase = qBase + (2 * C);
                float* dqBase = Dqkv + batchOffset + (h * hs);
                float* dkBase = dqBase + C;
                float* dvBase = dqBase + (2 * C);
                for (int t = 0; t < T; t++)
                {
                    new Span<float>(dqBase + (t * rowStride), hs).Clear();
                    new Span<float>(dkBase + (t * rowStride), hs).Clear();
                    new Span<float>(dvBase + (t * rowStride), hs).Clear();
                }
                float* lseRow = Lse + ((long)bh * T);
                for (int t = 0; t < T; t++)
                {
                    float* q = qBase + (t * rowStride);
                    float* dq = dqBase + (t * rowStride);
                    long outOffset = (((long)b * T) + t) * C + (h * hs);
                    float* dout = Doutput + outOffset;
                    float d = VectorMath.Dot(dout, Output + outOffset, hs);
                    float lse = lseRow[t];
                    for (int j = 0; j <= t; j++)
                    {
                        float* k = kBase + (j * rowStride);
                        p[j] = MathF.Exp((VectorMath.Dot(q, k, hs) * scale) - lse);
                    }
                    for (int j = 0; j <= t; j++)
                    {
                        float pj = p[j];
                        VectorMath.MultiplyAddTo(pj, dout, dvBase + (j * rowStride), hs);
                        float ds = pj * (VectorMath.Dot(dout, vBase + (j * rowStride), hs) - d) * scale;
                        VectorMath.MultiplyAddTo(ds, kBase + (j * rowStride), dq, hs);
                        VectorMath.MultiplyAddTo(ds, q, dkBase + (j * rowStride), hs);
                    }
                }
            }
        }
    }
}
