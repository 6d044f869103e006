using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tokenization;
using LmForge.Tokenization.Training;

namespace LmForge.Inference.Tests;

/// <summary>Small random models and a matching tokenizer for the session tests.</summary>
internal static class TestModels
{
    private static readonly Lazy<BpeTokenizer> s_tokenizer = new(() =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 320, Threads = 1 })
            .TrainOnTexts([string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. Hello world, the end. ", 40))])
            .ToTokenizer());

    /// <summary>A 320-token byte-level BPE with &lt;|endoftext|&gt;.</summary>
    public static BpeTokenizer Tokenizer => s_tokenizer.Value;

    public static TransformerConfig Config(string family, int contextLength = 64) => family switch
    {
        "gpt2" => TransformerConfig.Gpt2(Tokenizer.VocabularySize, contextLength, 2, 4, 32),
        _ => TransformerConfig.Llama(Tokenizer.VocabularySize, contextLength, 2, 4, 2, 32, 48),
    };

    /// <summary>
    /// A model with weights of standard deviation 0.3 (not GPT-2's 0.02), so logits are well apart and greedy choices
    /// do not hang on rounding.
    /// </summary>
    public static TransformerModel Random(string family, IBackend? backend = null, bool trainable = false, int contextLength = 64, int seed = 7)
    {
        var model = new TransformerModel(Config(family, contextLength), backend, trainable);
        var random = new Random(seed);
        foreach (var p in model.ParameterLayout)
        {
            var values = new float[p.Length];
            int real = (int)(p.Length / p.Shape[0] * p.RealRows);
            for (int i = 0; i < real; i++)
                values[i] = p.Init == ParameterInit.Ones ? 1f + (float)(random.NextDouble() - 0.5) * 0.2f : (float)(random.NextDouble() * 2 - 1) * 0.5f;
            model.Backend.CopyFromHost(model.GetParameter(p.Name), values);
        }
        return model;
    }

    /// <summary>The logits after the whole sequence, computed without a cache (the reference the cache must equal).</summary>
    public static float[] FullLogits(TransformerModel reference, IReadOnlyList<int> sequence)
    {
        reference.Forward([.. sequence], 1, sequence.Count);
        int v = reference.Config.VocabSize, vp = reference.Config.PaddedVocabSize;
        return reference.Backend.ToHost(reference.Logits.Slice((long)(sequence.Count - 1) * vp, new TensorShape(v)));
    }
}
