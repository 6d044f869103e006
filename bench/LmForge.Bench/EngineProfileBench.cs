using System.Diagnostics;
using System.Globalization;
using LmForge.Models.Gpt;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;

namespace LmForge.Bench;

/// <summary>
/// Where a GPT-2 training step spends its time on the CPU backend: wall time per step and the share of each backend
/// operation, measured by wrapping the backend. Usage: engine-profile [layers heads width seq batch vocab steps]
/// </summary>
public static class EngineProfileBench
{
    public static int Run(string[] args)
    {
        int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], CultureInfo.InvariantCulture) : fallback;
        var config = new GptConfig(VocabSize: Arg(5, 50257), ContextLength: Arg(3, 256), LayerCount: Arg(0, 4), HeadCount: Arg(1, 6), Width: Arg(2, 384));
        int seq = config.ContextLength, batch = Arg(4, 4), steps = Arg(6, 5);
        var profiler = new ProfilingBackend(CpuBackend.Shared);
        using var model = new GptModel(config, profiler);
        model.InitializeWeights(1337);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        var random = new Random(20230828);
        int[] tokens = Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize)).ToArray();
        int[] targets = Enumerable.Range(0, batch * seq).Select(_ => random.Next(config.VocabSize)).ToArray();
        Console.WriteLine($"GPT-2 L={config.LayerCount} NH={config.HeadCount} C={config.Width} T={seq} B={batch} V={config.VocabSize} " +
            $"({model.ParameterCount / 1e6:F1}M parameters), backend {profiler.Name}, {Environment.ProcessorCount} threads");
        for (int i = 0; i < 2; i++) model.TrainStep(tokens, targets, batch, seq, optimizer, 1e-4f, 1f); // warm-up: plans activations, JIT tiers up
        profiler.Reset();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) model.TrainStep(tokens, targets, batch, seq, optimizer, 1e-4f, 1f);
        watch.Stop();
        double msPerStep = watch.Elapsed.TotalMilliseconds / steps;
        Console.WriteLine($"{msPerStep:F1} ms/step, {batch * seq / (msPerStep / 1000):F0} tokens/s");
        double total = profiler.Ticks.Sum();
        foreach (var (name, ticks) in profiler.Names.Zip(profiler.Ticks).OrderByDescending(x => x.Second))
        {
            if (ticks == 0) continue;
            Console.WriteLine($"  {name,-22} {ticks * 1000.0 / Stopwatch.Frequency / steps,9:F2} ms/step  {100 * ticks / total,5:F1}%");
        }
        return 0;
    }

    /// <summary>Times every call of an inner backend, by operation.</summary>
    private sealed class ProfilingBackend(IBackend inner) : IBackend
    {
        public string[] Names { get; } =
        [
            "EncoderForward", "EncoderBackward", "LinearForward", "LinearBackward", "LayerNormForward", "LayerNormBackward",
            "GeluForward", "GeluBackward", "ResidualForward", "AttentionForward", "AttentionBackward", "CrossEntropyForward",
            "CrossEntropyBackward", "SumOfSquares", "AdamW", "Clear", "Sum",
        ];

        public long[] Ticks { get; } = new long[17];

        public string Name => inner.Name;

        public void Reset() => Array.Clear(Ticks);

        private long Start() => Stopwatch.GetTimestamp();

        private void Stop(int op, long start) => Ticks[op] += Stopwatch.GetTimestamp() - start;

        public void EncoderForward(Tensor output, ReadOnlySpan<int> tokens, Tensor tokenEmbedding, Tensor positionEmbedding)
        { long s = Start(); inner.EncoderForward(output, tokens, tokenEmbedding, positionEmbedding); Stop(0, s); }

        public void EncoderBackward(Tensor tokenEmbeddingGrad, Tensor positionEmbeddingGrad, Tensor outputGrad, ReadOnlySpan<int> tokens)
        { long s = Start(); inner.EncoderBackward(tokenEmbeddingGrad, positionEmbeddingGrad, outputGrad, tokens); Stop(1, s); }

        public void LinearForward(Tensor output, Tensor input, Tensor weight, Tensor? bias)
        { long s = Start(); inner.LinearForward(output, input, weight, bias); Stop(2, s); }

        public void LinearBackward(Tensor inputGrad, Tensor weightGrad, Tensor? biasGrad, Tensor outputGrad, Tensor input, Tensor weight)
        { long s = Start(); inner.LinearBackward(inputGrad, weightGrad, biasGrad, outputGrad, input, weight); Stop(3, s); }

        public void LayerNormForward(Tensor output, Tensor mean, Tensor rstd, Tensor input, Tensor weight, Tensor bias)
        { long s = Start(); inner.LayerNormForward(output, mean, rstd, input, weight, bias); Stop(4, s); }

        public void LayerNormBackward(Tensor inputGrad, Tensor weightGrad, Tensor biasGrad, Tensor outputGrad, Tensor input, Tensor weight, Tensor mean, Tensor rstd)
        { long s = Start(); inner.LayerNormBackward(inputGrad, weightGrad, biasGrad, outputGrad, input, weight, mean, rstd); Stop(5, s); }

        public void GeluForward(Tensor output, Tensor input)
        { long s = Start(); inner.GeluForward(output, input); Stop(6, s); }

        public void GeluBackward(Tensor inputGrad, Tensor input, Tensor outputGrad)
        { long s = Start(); inner.GeluBackward(inputGrad, input, outputGrad); Stop(7, s); }

        public void ResidualForward(Tensor output, Tensor a, Tensor b)
        { long s = Start(); inner.ResidualForward(output, a, b); Stop(8, s); }

        public void AttentionForward(Tensor output, Tensor logSumExp, Tensor qkv, int headCount)
        { long s = Start(); inner.AttentionForward(output, logSumExp, qkv, headCount); Stop(9, s); }

        public void AttentionBackward(Tensor qkvGrad, Tensor outputGrad, Tensor qkv, Tensor output, Tensor logSumExp, int headCount)
        { long s = Start(); inner.AttentionBackward(qkvGrad, outputGrad, qkv, output, logSumExp, headCount); Stop(10, s); }

        public void CrossEntropyForward(Tensor losses, Tensor logits, ReadOnlySpan<int> targets, int vocabSize)
        { long s = Start(); inner.CrossEntropyForward(losses, logits, targets, vocabSize); Stop(11, s); }

        public void CrossEntropyBackward(Tensor logitsGrad, Tensor logits, Tensor losses, ReadOnlySpan<int> targets, int vocabSize, float lossGradScale)
        { long s = Start(); inner.CrossEntropyBackward(logitsGrad, logits, losses, targets, vocabSize, lossGradScale); Stop(12, s); }

        public double SumOfSquares(Tensor values)
        { long s = Start(); double r = inner.SumOfSquares(values); Stop(13, s); return r; }

        public void Clear(Tensor values)
        { long s = Start(); inner.Clear(values); Stop(15, s); }

        public double Sum(Tensor values)
        { long s = Start(); double r = inner.Sum(values); Stop(16, s); return r; }

        public void AdamW(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWUpdate update, long decayedLength)
        { long s = Start(); inner.AdamW(parameters, gradients, firstMoment, secondMoment, update, decayedLength); Stop(14, s); }
    }
}
