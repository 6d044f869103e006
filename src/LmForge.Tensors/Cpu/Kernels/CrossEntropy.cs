using System.Runtime.CompilerServices;
namespace LmForge.Tensors.Cpu.Kernels;

/// <summary>
/// Softmax cross-entropy over the real vocabulary of padded logits. The forward stores only one loss per row; the
/// backward recomputes the softmax from the logits and lse = loss + logit[target], and may write dlogits over the logits.
/// </summary>
internal static unsafe class CrossEntropy
{
    // losses is (N), logits is (N,Vp), targets is (N) with −1 meaning "ignore"
    public static void Forward(WorkerPool pool, float* losses, float* logits, int* targets, int rows, int vocabSize, int paddedVocabSize)
    {
        var op = new ForwardRows { Losses = losses, Logits = logits, Targets = targets, VocabSize = vocabSize, PaddedVocabSize = paddedVocabSize };
        pool.Run(rows, Math.Max(1, 16384 / paddedVocabSize), ref op);
    }

    // dlogits is (N,Vp): (softmax − onehot)·scale in [0,V), 0 in [V,Vp) and in ignored rows. dlogits may alias logits.
    public static void Backward(WorkerPool pool, float* dlogits, float* logits, float* losses, int* targets, int rows, int vocabSize, int paddedVocabSize, float scale)
    {
        var op = new BackwardRows
        {
            Dlogits = dlogits, Logits = logits, Losses = losses, Targets = targets, VocabSize = vocabSize, PaddedVocabSize = paddedVocabSize, Scale = scale,
        };
        pool.Run(rows, Math.Max(1, 16384 / paddedVocabSize), ref op);
    }

    // indices is (N): the column of each row's largest logit among [0, V) of logits (N,Vp), the first one on a tie
    public static void ArgMax(WorkerPool pool, int* indices, float* logits, int rows, int vocabSize, int paddedVocabSize)
    {
        var op = new ArgMaxRows { Indices = indices, Logits = logits, VocabSize = vocabSize, PaddedVocabSize = paddedVocabSize };
        pool.Run(rows, Math.Max(1, 16384 / paddedVocabSize), ref op);
    }

    private struct ArgMaxRows : IRangeOperation
    {
        public float* Logits;
        public int* Indices;
        public int VocabSize, PaddedVocabSize;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
                Indices[row] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(new ReadOnlySpan<float>(Logits + ((long)row * PaddedVocabSize), VocabSize));
        }
    }

    private struct ForwardRows : IRangeOperation
    {
        public float* Losses, Logits;
        public int* Targets;
        public int VocabSize, PaddedVocabSize;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                int target = Targets[row];
                if (target < 0)
                {
                    Losses[row] = 0f;
                    continue;
                }
                float* x = Logits + ((long)row * PaddedVocabSize);
                float max = VectorMath.Max(x, VocabSize);
                float sum = VectorMath.SumExp(x, max, VocabSize);
                Losses[row] = MathF.Log(sum) + max - x[target];
            }
        }
    }

    private struct BackwardRows : IRangeOperation
    {
        public float* Dlogits, Logits, Losses;
        public int* Targets;
        public int VocabSize, PaddedVocabSize;
        public float Scale;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                float* x = Logits + ((long)row * PaddedVocabSize);
                float* dx = Dlogits + ((long)row * PaddedVocabSize);
                int target = Targets[row];
                if (target < 0)
                {
                    new Span<float>(dx, PaddedVocabSize).Clear();
                    continue;
                }
                float lse = Losses[row] + x[target];
                VectorMath.ExpScale(x, lse, Scale, dx, VocabSize);
                dx[target] -= Scale;
                new Span<float>(dx + VocabSize, PaddedVocabSize - VocabSize).Clear();
            }
        }
    }
}
