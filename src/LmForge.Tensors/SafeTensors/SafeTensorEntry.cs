namespace LmForge.Tensors.SafeTensors;

/// <summary>
/// A float32 tensor to write: a name, a shape and its row-major data, held either as managed memory or as a
/// pointer into native memory (the engine's parameter buffer) that must stay valid until the write returns.
/// </summary>
public readonly unsafe struct SafeTensorEntry
{
    private readonly ReadOnlyMemory<float> _memory;
    private readonly float* _pointer;

    public SafeTensorEntry(string name, IReadOnlyList<int> shape, ReadOnlyMemory<float> data)
    {
        Name = name;
        Shape = shape;
        _memory = data;
        ElementCount = data.Length;
    }

    public SafeTensorEntry(string name, IReadOnlyList<int> shape, float* data, long elementCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        if (data == null && elementCount > 0) throw new ArgumentNullException(nameof(data));
        Name = name;
        Shape = shape;
        _pointer = data;
        ElementCount = elementCount;
    }

    public string Name { get; }

    public IReadOnlyList<int> Shape { get; }

    public long ElementCount { get; }

    /// <summary>Writes the data as little-endian float32 bytes, in chunks of at most 1 GiB.</summary>
    internal void WriteBytes(Stream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        if (_pointer == null)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_memory.Span));
            return;
        }
        const long chunkElements = 1L << 28;
        for (long start = 0; start < ElementCount; start += chunkElements)
        {
            int count = (int)Math.Min(chunkElements, ElementCount - start);
            stream.Write(new ReadOnlySpan<byte>(_pointer + start, count * sizeof(float)));
        }
    }
}
