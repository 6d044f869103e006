using System.Globalization;
using System.Runtime.InteropServices;
using LmForge.Models.Transformer;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Tests;

/// <summary>A PyTorch reference fixture (tests/reference/make_gpt2_fixtures.py) opened for reading.</summary>
internal sealed class GptFixture : ReferenceFixture
{
    public GptFixture(string name) : base(name)
    {
        Config = TransformerConfig.Gpt2(Int("vocab_size"), Int("context_length"), Int("layer_count"), Int("head_count"), Int("width"));
        Assert.Equal(Int("padded_vocab_size"), Config.PaddedVocabSize);
        BatchSize = Int("batch");
        SequenceLength = Int("seq");
        Steps = Int("steps");
    }

    public TransformerConfig Config { get; }
    public int BatchSize { get; }
    public int SequenceLength { get; }
    public int Steps { get; }

    /// <summary>Copies every param.* tensor into the model, checking that the names and shapes are exactly the model's.</summary>
    public void LoadInitialParameters(TransformerModel model) => LoadParameters(model, "param.");

    public void LoadParameters(TransformerModel model, string prefix)
    {
        var fixtureNames = Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Select(n => n[prefix.Length..]).Order().ToArray();
        var modelNames = model.ParameterLayout.Select(p => p.Name).Order().ToArray();
        Assert.Equal(modelNames, fixtureNames);
        foreach (var p in model.ParameterLayout)
            model.Backend.CopyFromHost(model.GetParameter(p.Name), File.ReadFloat32(prefix + p.Name, p.Shape.Dimensions));
    }
}
