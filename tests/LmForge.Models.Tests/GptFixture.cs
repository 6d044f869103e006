using System.Globalization;
using System.Runtime.InteropServices;
using LmForge.Models.Transformer;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Tests;

/// <summary>A PyTorch reference fixture (tests/reference/make_gpt2_fixtures.py) opened for reading.</summary>
internal sealed class GptFixture : IDisposable
{
    private readonly SafeTensorsFile _file;

    public GptFixture(string name)
    {
        _file = SafeTensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".safetensors"));
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

    public IEnumerable<string> Names => _file.Tensors.Keys;

    public float Float(string key) => float.Parse(_file.Metadata[key], CultureInfo.InvariantCulture);

    public int Int(string key) => int.Parse(_file.Metadata[key], CultureInfo.InvariantCulture);

    public float[] Read(string name, params int[] shape) => _file.ReadFloat32(name, shape);

    public float[] Read(string name) => _file.ReadFloat32(name, _file.GetInfo(name).Shape.ToArray());

    public int[] ReadInt32(string name)
    {
        var info = _file.GetInfo(name);
        Assert.Equal(SafeTensorDType.I32, info.DType);
        var values = new int[info.ElementCount];
        _file.ReadBytes(name, MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    /// <summary>Copies every param.* tensor into the model, checking that the names and shapes are exactly the model's.</summary>
    public void LoadInitialParameters(TransformerModel model) => LoadParameters(model, "param.");

    public void LoadParameters(TransformerModel model, string prefix)
    {
        var fixtureNames = Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Select(n => n[prefix.Length..]).Order().ToArray();
        var modelNames = model.ParameterLayout.Select(p => p.Name).Order().ToArray();
        Assert.Equal(modelNames, fixtureNames);
        foreach (var p in model.ParameterLayout)
            model.Backend.CopyFromHost(model.GetParameter(p.Name), _file.ReadFloat32(prefix + p.Name, p.Shape.Dimensions));
    }

    public void Dispose() => _file.Dispose();
}
