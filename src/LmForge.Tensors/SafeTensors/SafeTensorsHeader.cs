using System.Text.Json;
using System.Text.Unicode;

namespace LmForge.Tensors.SafeTensors;

/// <summary>
/// Parses and validates the JSON header of a safetensors file, treating every byte as hostile:
/// valid UTF-8, a JSON object, known dtypes, non-negative shapes whose byte size (checked for overflow) equals the
/// data_offsets span, offsets that tile the data buffer exactly in order (as the reference implementation demands),
/// no duplicate names, and a "__metadata__" object of strings.
/// </summary>
internal static class SafeTensorsHeader
{
    public const string MetadataKey = "__metadata__";

    public static (Dictionary<string, SafeTensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        string file, ReadOnlySpan<byte> header, long bufferLength)
    {
        if (!Utf8.IsValid(header)) throw Error(file, "header is not valid UTF-8");
        if (header.Length == 0 || header[0] != (byte)'{') throw Error(file, "header does not start with '{'");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Error(file, $"header is not valid JSON ({SafeTensorsText.OneLine(e.Message)})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error(file, "header is not a JSON object");
            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata) throw Error(file, "header has '__metadata__' twice");
                    sawMetadata = true;
                    ParseMetadata(file, property.Value, metadata);
                    continue;
                }
                if (tensors.ContainsKey(property.Name))
                    throw Error(file, $"tensor {SafeTensorsText.Quote(property.Name)} appears twice in the header");
                tensors.Add(property.Name, ParseTensor(file, property.Name, property.Value));
            }
            CheckOffsetsTileBuffer(file, tensors.Values, bufferLength);
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(string file, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Error(file, "'__metadata__' is not a JSON object");
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw Error(file, $"'__metadata__' entry {SafeTensorsText.Quote(entry.Name)} is not a string");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw Error(file, $"'__metadata__' entry {SafeTensorsText.Quote(entry.Name)} appears twice");
        }
    }

    private static SafeTensorInfo ParseTensor(string file, string name, JsonElement element)
    {
        string tensor = $"tensor {SafeTensorsText.Quote(name)}";
        if (element.ValueKind != JsonValueKind.Object) throw Error(file, $"{tensor} is not a JSON object");

        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Error(file, $"{tensor} has no \"dtype\" string");
        string dtypeText = dtypeElement.GetString()!;
        if (!SafeTensorDTypeExtensions.TryParse(dtypeText, out var dtype))
            throw Error(file, $"{tensor} has unknown dtype {SafeTensorsText.Quote(dtypeText)}, expected one of {string.Join(", ", Enum.GetNames<SafeTensorDType>())}");

        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Error(file, $"{tensor} has no \"shape\" array");
        var shape = new int[shapeElement.GetArrayLength()];
        long elementCount = 1;
        int axis = 0;
        foreach (var dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt64(out long size) || size < 0 || size > int.MaxValue)
                throw Error(file, $"{tensor} has shape dimension {axis} = {SafeTensorsText.Json(dimension)}, expected an integer in [0, {int.MaxValue}]");
            shape[axis++] = (int)size;
            try { elementCount = checked(elementCount * size); }
            catch (OverflowException) { throw Error(file, $"{tensor} has shape {SafeTensorsText.Shape(shape)} whose element count overflows"); }
        }

        if (!element.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw Error(file, $"{tensor} has no \"data_offsets\" array of two integers");
        long begin = ReadOffset(file, tensor, offsetsElement[0]);
        long end = ReadOffset(file, tensor, offsetsElement[1]);
        if (end < begin) throw Error(file, $"{tensor} has data_offsets [{begin}, {end}] that end before they begin");

        long byteCount;
        try { byteCount = checked(elementCount * dtype.SizeInBytes()); }
        catch (OverflowException) { throw Error(file, $"{tensor} has shape {SafeTensorsText.Shape(shape)} whose byte size overflows"); }
        if (byteCount != end - begin)
            throw Error(file, $"{tensor} has {end - begin} bytes in data_offsets [{begin}, {end}], expected {byteCount} for {dtype} {SafeTensorsText.Shape(shape)}");

        return new SafeTensorInfo(name, dtype, shape, elementCount, begin, end);
    }

    private static long ReadOffset(string file, string tensor, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long offset) || offset < 0)
            throw Error(file, $"{tensor} has data offset {SafeTensorsText.Json(element)}, expected a non-negative integer");
        return offset;
    }

    // The reference implementation requires the tensors, sorted by offset, to cover the buffer exactly: the first
    // begins at 0, each begins where the previous ended, and the last ends at the end of the file.
    private static void CheckOffsetsTileBuffer(string file, IEnumerable<SafeTensorInfo> tensors, long bufferLength)
    {
        long expectedBegin = 0;
        SafeTensorInfo? previous = null;
        foreach (var info in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
        {
            string tensor = $"tensor {SafeTensorsText.Quote(info.Name)}";
            if (info.DataEnd > bufferLength)
                throw Error(file, $"{tensor} has data_offsets [{info.DataBegin}, {info.DataEnd}] beyond the data buffer of {bufferLength} bytes");
            if (info.DataBegin < expectedBegin)
                throw Error(file, $"{tensor} has data_offsets [{info.DataBegin}, {info.DataEnd}] overlapping tensor {SafeTensorsText.Quote(previous!.Name)} [{previous.DataBegin}, {previous.DataEnd}]");
            if (info.DataBegin > expectedBegin)
                throw Error(file, $"{tensor} has data_offsets [{info.DataBegin}, {info.DataEnd}] leaving a gap after byte {expectedBegin}");
            expectedBegin = info.DataEnd;
            previous = info;
        }
        if (expectedBegin != bufferLength)
            throw Error(file, $"data buffer has {bufferLength} bytes but the tensors cover {expectedBegin}");
    }

    public static InvalidDataException Error(string file, string message) => new($"{file}: {message}");

    /// <summary>Serializes a header for the writer; the result is padded with spaces to a multiple of 8 bytes.</summary>
    public static byte[] Write(IReadOnlyList<(string Name, IReadOnlyList<int> Shape, long Begin, long End)> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var (name, shape, begin, end) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", nameof(SafeTensorDType.F32));
                json.WriteStartArray("shape");
                foreach (int size in shape) json.WriteNumberValue(size);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(begin);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (int)((stream.Length + 7) / 8 * 8);
        while (stream.Length < padded) stream.WriteByte((byte)' ');
        return stream.ToArray();
    }
}
