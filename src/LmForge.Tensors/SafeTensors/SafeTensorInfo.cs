namespace LmForge.Tensors.SafeTensors;

/// <summary>
/// One tensor as a safetensors header describes it. DataBegin/DataEnd are byte offsets into the data buffer that
/// follows the header (already validated against the dtype, the shape and the file length).
/// </summary>
public sealed class SafeTensorInfo
{
    internal SafeTensorInfo(string name, SafeTensorDType dtype, int[] shape, long elementCount, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    public string Name { get; }

    public SafeTensorDType DType { get; }

    public IReadOnlyList<int> Shape { get; }

    public long ElementCount { get; }

    public long DataBegin { get; }

    public long DataEnd { get; }

    public long ByteCount => DataEnd - DataBegin;

    public override string ToString() => $"{Name} {DType} {SafeTensorsText.Shape(Shape)}";
}
