namespace LmForge.Tensors.SafeTensors;

/// <summary>
/// Fills <paramref name="destination"/> with elements [start, start + destination.Length) of a tensor's row-major
/// data; lets a writer produce a tensor (e.g. a transposed copy) chunk by chunk instead of materializing it.
/// </summary>
public delegate void SafeTensorChunkProducer(long start, Span<float> destination);

/// <summary>
/// A float32 tensor to write: a name, a shape and its row-major data, held as managed memory, as a pointer into
/// native memory (the engine's parameter buffer) that must stay valid until the write returns, or as a producer
/// called chunk by chunk during the write.
/// </summary>
public readonly unsafe struct SafeTensorEntry
{
    private const int ProducerChunkElements = 1 << 16;
    private readonly ReadOnlyMemory<float> _memory;
    private readonly float* _pointer;
    private readonly SafeTensorChunkProducer? _producer;

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

    public SafeTensorEntry(string name, IReadOnlyList<int> shape, long elementCount, SafeTensorChunkProducer producer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        ArgumentNullException.ThrowIfNull(producer);
        Name = name;
        Shape = shape;
        _producer = producer;
        ElementCount = elementCount;
    }

    public string Name { get; }

    public IReadOnlyList<int> Shape { get; }

    public long ElementCount { get; }

    /// <summary>Writes the data as little-endian float32 bytes, in chunks of at most 1 GiB.</summary>
    internal void WriteBytes(Stream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        if (_producer != null)
        {
            float[] chunk = System.Buffers.ArrayPool<float>.Shared.Rent((int)Math.Min(ProducerChunkElements, Math.Max(1, ElementCount)));
            try
            {
                for (long start = 0; start < ElementCount; start += ProducerChunkElements)
                {
                    var part = chunk.AsSpan(0, (int)Math.Min(ProducerChunkElements, ElementCount - start));
                    _producer(start, part);
                    stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(part));
                }
            }
            finally
            {
                System.Buffers.ArrayPool<float>.Shared.Return(chunk);
            }
            return;
        }
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
