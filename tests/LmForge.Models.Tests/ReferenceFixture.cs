using System.Globalization;
using System.Runtime.InteropServices;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Tests;

/// <summary>A PyTorch reference fixture (a safetensors file of tensors and metadata written by a script under tests/reference) opened for reading.</summary>
internal abstract class ReferenceFixture : IDisposable
{
    protected ReferenceFixture(string name) =>
        File = SafeTensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".safetensors"));

    protected SafeTensorsFile File { get; }

    public IEnumerable<string> Names => File.Tensors.Keys;

    public float Float(string key) => float.Parse(File.Metadata[key], CultureInfo.InvariantCulture);

    public int Int(string key) => int.Parse(File.Metadata[key], CultureInfo.InvariantCulture);

    public float[] Read(string name, params int[] shape) => File.ReadFloat32(name, shape);

    public float[] Read(string name) => File.ReadFloat32(name, File.GetInfo(name).Shape.ToArray());

    public int[] ReadInt32(string name)
    {
        var info = File.GetInfo(name);
        Assert.Equal(SafeTensorDType.I32, info.DType);
        var values = new int[info.ElementCount];
        File.ReadBytes(name, MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    /// <summary>Writes the tensors named prefix + X as a Hugging Face weights file with names X, and returns its path.</summary>
    public string WriteHuggingFaceFile(string prefix, string directory)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "fixture-" + prefix.TrimEnd('.') + ".safetensors");
        var entries = Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => new SafeTensorEntry(n[prefix.Length..], File.GetInfo(n).Shape, Read(n)))
            .ToList();
        SafeTensorsFile.Write(path, entries);
        return path;
    }

    public void Dispose() => File.Dispose();
}
