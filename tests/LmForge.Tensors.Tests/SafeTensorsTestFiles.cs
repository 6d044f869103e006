using System.Text;

namespace LmForge.Tensors.Tests;

// Temporary files for the safetensors tests, and the committed fixtures under tests/reference/safetensors.
internal sealed class SafeTensorsTestFiles : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lmforge-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTestFiles() => Directory.CreateDirectory(_directory);

    public string PathFor(string name) => Path.Combine(_directory, name);

    public IEnumerable<string> AllFiles => Directory.EnumerateFiles(_directory);

    /// <summary>Writes a file from a header text and buffer; headerLength overrides the declared length.</summary>
    public string WriteRaw(string name, string header, byte[] buffer, ulong? headerLength = null) =>
        WriteRaw(name, Encoding.UTF8.GetBytes(header), buffer, headerLength);

    public string WriteRaw(string name, byte[] header, byte[] buffer, ulong? headerLength = null)
    {
        string path = PathFor(name);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(headerLength ?? (ulong)header.Length));
        stream.Write(header);
        stream.Write(buffer);
        return path;
    }

    public static string Fixture(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) directory = directory.Parent;
        if (directory == null) throw new InvalidOperationException($"no LmForge.slnx above {AppContext.BaseDirectory}");
        return Path.Combine(directory.FullName, "tests", "reference", "safetensors", name);
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
    }
}
