using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Tensors.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    // The fixture was written by tests/reference/make_safetensors_fixture.py: tensor bytes from PyTorch, and the
    // expected float32 values from PyTorch's own F16/BF16/F64 -> F32 conversion.
    [Fact]
    public void ReadsPyTorchFixture_EveryFloatDtypeConvertedAsPyTorchConvertsIt()
    {
        using var expectedJson = JsonDocument.Parse(File.ReadAllText(SafeTensorsTestFiles.Fixture("mixed_dtypes.expected.json")));
        using var file = SafeTensorsFile.Open(SafeTensorsTestFiles.Fixture("mixed_dtypes.safetensors"));

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("make_safetensors_fixture.py", file.Metadata["generator"]);
        Assert.Equal(expectedJson.RootElement.EnumerateObject().Count(), file.Tensors.Count);
        foreach (var tensor in expectedJson.RootElement.EnumerateObject())
        {
            var info = file.Tensors[tensor.Name];
            int[] shape = tensor.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(tensor.Value.GetProperty("dtype").GetString(), info.DType.ToString());
            Assert.Equal(shape, info.Shape);
            if (info.DType == SafeTensorDType.I64)
            {
                long[] expectedIds = tensor.Value.GetProperty("values").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var bytes = new byte[info.ByteCount];
                file.ReadBytes(tensor.Name, bytes);
                Assert.Equal(expectedIds, MemoryMarshal.Cast<byte, long>(bytes).ToArray());
                continue;
            }
            float[] expected = tensor.Value.GetProperty("values").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
            float[] actual = file.ReadFloat32(tensor.Name, shape);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public unsafe void RoundTrip_ManagedAndNativeEntries_BitExactWithMetadata()
    {
        var random = new Random(20230828);
        float[] matrix = RandomFloats(random, 7 * 13);
        float[] vector = RandomFloats(random, 13);
        float[] native = RandomFloats(random, 2 * 3 * 4);
        string path = _files.PathFor("model.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };

        fixed (float* nativePointer = native)
        {
            SafeTensorsFile.Write(path,
            [
                new SafeTensorEntry("h.0.mlp.c_fc.weight", [7, 13], matrix),
                new SafeTensorEntry("h.0.mlp.c_fc.bias", [13], vector),
                new SafeTensorEntry("native.cube", [2, 3, 4], nativePointer, native.Length),
                new SafeTensorEntry("scalar", [], new float[] { -0.25f }),
                new SafeTensorEntry("empty", [0, 5], ReadOnlyMemory<float>.Empty),
                new SafeTensorEntry("produced.transpose", [13, 7], 13 * 7, (start, destination) =>
                {
                    // element (i, j) of the 13×7 transpose of the 7×13 matrix
                    for (int e = 0; e < destination.Length; e++)
                    {
                        long index = start + e;
                        destination[e] = matrix[(index % 7 * 13) + (index / 7)];
                    }
                }),
                new SafeTensorEntry("produced.long", [100_000], 100_000, (start, destination) =>
                {
                    for (int e = 0; e < destination.Length; e++) destination[e] = start + e;
                }),
            ], metadata);
        }

        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.Equal(metadata, file.Metadata);
            Assert.Equal(7, file.Tensors.Count);
            Assert.All(file.Tensors.Values, t => Assert.Equal(SafeTensorDType.F32, t.DType));
            Assert.Equal(matrix, file.ReadFloat32("h.0.mlp.c_fc.weight", [7, 13]));
            Assert.Equal(vector, file.ReadFloat32("h.0.mlp.c_fc.bias", [13]));
            var cube = new float[native.Length];
            file.ReadFloat32("native.cube", cube, [2, 3, 4]);
            Assert.Equal(native, cube);
            Assert.Equal([-0.25f], file.ReadFloat32("scalar", []));
            Assert.Empty(file.ReadFloat32("empty", [0, 5]));
            float[] transpose = file.ReadFloat32("produced.transpose", [13, 7]);
            Assert.Equal(matrix[(3 * 13) + 11], transpose[(11 * 7) + 3]);
            Assert.Equal(Enumerable.Range(0, 100_000).Select(i => (float)i), file.ReadFloat32("produced.long", [100_000]));
        }

        // The bytes follow the published layout, checked without our reader: header length, 8-byte padded JSON,
        // offsets tiling the buffer in the order given, little-endian float32 data.
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var offsets = header.RootElement.GetProperty("h.0.mlp.c_fc.bias").GetProperty("data_offsets");
        Assert.Equal(7 * 13 * 4, offsets[0].GetInt64());
        Assert.Equal("F32", header.RootElement.GetProperty("native.cube").GetProperty("dtype").GetString());
        Assert.Equal(8 + headerLength + (7 * 13 + 13 + 24 + 1 + 13 * 7 + 100_000) * 4, bytes.Length);
        Assert.Equal(vector[0], BitConverter.ToSingle(bytes, (int)(8 + headerLength + 7 * 13 * 4)));
        Assert.Single(_files.AllFiles);
    }

    [Fact]
    public void Write_BadEntry_LeavesExistingFileUntouchedAndNoTemporaryFile()
    {
        string path = _files.PathFor("model.safetensors");
        SafeTensorsFile.Write(path, [new SafeTensorEntry("a", [2], new float[] { 1, 2 })]);
        byte[] before = File.ReadAllBytes(path);

        var shapeMismatch = Assert.Throws<ArgumentException>(() =>
            SafeTensorsFile.Write(path, [new SafeTensorEntry("b", [2, 2], new float[] { 1, 2, 3 })]));
        Assert.Contains("model.safetensors: tensor 'b' has shape [2, 2] (4 elements) but 3 values", shapeMismatch.Message);
        var duplicate = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path,
            [new SafeTensorEntry("a", [1], new float[] { 1 }), new SafeTensorEntry("a", [1], new float[] { 1 })]));
        Assert.Contains("tensor 'a' is given twice", duplicate.Message);
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new SafeTensorEntry("__metadata__", [1], new float[] { 1 })]));
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new SafeTensorEntry("n", [-1], ReadOnlyMemory<float>.Empty)]));
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new SafeTensorEntry("o", [int.MaxValue, int.MaxValue, 4], ReadOnlyMemory<float>.Empty)]));

        // A failure while writing the data (here: a source that throws mid-stream) must not replace the old file.
        using var failing = new FailingMemory(4);
        Assert.Throws<IOException>(() => SafeTensorsFile.Write(path,
            [new SafeTensorEntry("a", [2], new float[] { 5, 6 }), new SafeTensorEntry("b", [4], failing.Memory)]));
        Assert.Throws<DirectoryNotFoundException>(() =>
            SafeTensorsFile.Write(_files.PathFor(Path.Combine("missing-dir", "x.safetensors")), [new SafeTensorEntry("a", [1], new float[] { 1 })]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(_files.AllFiles);
    }

    [Fact]
    public void ReadFloat32_LongBf16AndF16_ConvertedExactly()
    {
        // Beyond the fixture: every finite BF16 bit pattern class (normals, subnormals, signed zero) and
        // lengths that are not a multiple of the vector width, checked against the definition of the formats.
        var random = new Random(20230828);
        int count = 70_001; // crosses the reader's 65,536-element scratch chunk
        var bf16 = new ushort[count];
        var f16 = new Half[count];
        for (int i = 0; i < count; i++)
        {
            bf16[i] = (ushort)random.Next(0, 0x7F80 - 1);
            if (random.Next(2) == 1) bf16[i] |= 0x8000;
            f16[i] = (Half)((random.NextDouble() - 0.5) * 1000);
        }
        byte[] bf16Bytes = MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray();
        byte[] f16Bytes = MemoryMarshal.AsBytes(f16.AsSpan()).ToArray();
        string header = $"{{\"a\":{{\"dtype\":\"BF16\",\"shape\":[{count}],\"data_offsets\":[0,{bf16Bytes.Length}]}}," +
                        $"\"b\":{{\"dtype\":\"F16\",\"shape\":[{count}],\"data_offsets\":[{bf16Bytes.Length},{bf16Bytes.Length + f16Bytes.Length}]}}}}";
        string path = _files.WriteRaw("half.safetensors", header, [.. bf16Bytes, .. f16Bytes]);

        using var file = SafeTensorsFile.Open(path);
        float[] a = file.ReadFloat32("a", [count]);
        float[] b = file.ReadFloat32("b", [count]);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal((uint)bf16[i] << 16, BitConverter.SingleToUInt32Bits(a[i]));
            Assert.Equal((float)f16[i], b[i]);
        }
    }

    private sealed class FailingMemory(int length) : System.Buffers.MemoryManager<float>
    {
        public override Memory<float> Memory => CreateMemory(length);

        public override Span<float> GetSpan() => throw new IOException("simulated read failure of the source tensor");

        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }

    private static float[] RandomFloats(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
