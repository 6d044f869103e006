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

    /// <summary>
    /// Compares every tensor of a safetensors file our checkpoint code wrote with the fixture's tensor of that name after
    /// <paramref name="prefix"/> (the names must be the same set): relative to the largest reference value, or, when
    /// <paramref name="absolute"/>, by the largest absolute difference. <paramref name="special"/> may take over a tensor
    /// (returning true) whose comparison needs its own rule.
    /// </summary>
    public void CompareWithSaved(Xunit.Abstractions.ITestOutputHelper output, string savedFile, string prefix, double tolerance, bool absolute = false,
        Func<string, float[], float[], bool>? special = null)
    {
        using var ours = SafeTensorsFile.Open(savedFile);
        var expectedNames = Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Select(n => n[prefix.Length..]).Order().ToArray();
        Assert.Equal(expectedNames, ours.Tensors.Keys.Order().ToArray());
        foreach (string name in expectedNames)
        {
            float[] expected = Read(prefix + name);
            float[] actual = ours.ReadFloat32(name, ours.GetInfo(name).Shape.ToArray());
            if (special?.Invoke(name, expected, actual) == true) continue;
            if (!absolute)
            {
                ReferenceAssert.Close(output, prefix + name, expected, actual, tolerance);
                continue;
            }
            double maxError = 0;
            for (int i = 0; i < expected.Length; i++) maxError = Math.Max(maxError, Math.Abs(expected[i] - actual[i]));
            output.WriteLine($"{prefix}{name}: max abs error {maxError:E2}");
            Assert.True(maxError <= tolerance, $"{prefix}{name}: max abs error {maxError:E2} > {tolerance:E0}");
        }
    }

    public void Dispose() => File.Dispose();
}
