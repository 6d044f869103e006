using System.Text;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Tensors.Tests;

// Every check of the reader, each with a file that breaks it: the error is one InvalidDataException line that
// names the file and (where there is one) the tensor, and never a crash of another kind.
public sealed class SafeTensorsBadInputTests : IDisposable
{
    private const string GoodTensor = "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    public static TheoryData<string, string, int, string> BadHeaders => new()
    {
        // header text, buffer length, expected message part
        { "malformed JSON", "{\"w\":{\"dtype\":\"F32\",", 16, "header is not valid JSON" },
        { "not an object", "[1,2,3]", 16, "header does not start with '{'" },
        { "tensor not an object", "{\"w\":5}", 0, "tensor 'w' is not a JSON object" },
        { "unknown dtype", "{\"w\":{\"dtype\":\"F31\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has unknown dtype 'F31'" },
        { "lowercase dtype", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has unknown dtype 'f32'" },
        { "missing dtype", "{\"w\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has no \"dtype\" string" },
        { "missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, "tensor 'w' has no \"shape\" array" },
        { "negative dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has shape dimension 0 = -2" },
        { "fractional dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has shape dimension 1 = 1.5" },
        { "element count overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,16]}}", 16, "tensor 'w' has shape [2147483647, 2147483647, 2147483647] whose element count overflows" },
        { "byte size overflow", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,16]}}", 16, "overflows" },
        { "wrong byte count", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, "tensor 'w' has 12 bytes in data_offsets [0, 12], expected 16 for F32 [2, 2]" },
        { "offsets not two", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", 16, "tensor 'w' has no \"data_offsets\" array of two integers" },
        { "negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-4,-4]}}", 0, "tensor 'w' has data offset -4" },
        { "end before begin", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16, "tensor 'w' has data_offsets [16, 0] that end before they begin" },
        { "offsets beyond buffer", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, "tensor 'w' has data_offsets [0, 16] beyond the data buffer of 8 bytes" },
        { "overlapping offsets", "{" + GoodTensor + ",\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "tensor 'v' has data_offsets [8, 16] overlapping tensor 'w' [0, 16]" },
        { "gap between tensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, "tensor 'v' has data_offsets [12, 16] leaving a gap after byte 8" },
        { "trailing bytes", "{" + GoodTensor + "}", 20, "data buffer has 20 bytes but the tensors cover 16" },
        { "duplicate tensor", "{" + GoodTensor + "," + GoodTensor + "}", 16, "tensor 'w' appears twice in the header" },
        { "metadata not strings", "{\"__metadata__\":{\"format\":1}," + GoodTensor + "}", 16, "'__metadata__' entry 'format' is not a string" },
        { "metadata not object", "{\"__metadata__\":[]," + GoodTensor + "}", 16, "'__metadata__' is not a JSON object" },
        { "control characters in name", "{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, "tensor 'a\\u000Ab' has unknown dtype 'X'" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Open_BadHeader_OneLineErrorNamingFileAndTensor(string description, string header, int bufferLength, string expected)
    {
        string path = _files.WriteRaw("bad.safetensors", header, new byte[bufferLength]);
        var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        AssertOneLine(error, path, expected, description);
    }

    [Fact]
    public void Open_InvalidUtf8Header_Throws()
    {
        byte[] header = [.. "{\"w"u8, 0xC3, 0x28, .. "\":{}}"u8];
        string path = _files.WriteRaw("bad.safetensors", header, []);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)), path, "header is not valid UTF-8", "utf8");
    }

    [Fact]
    public void Open_TruncatedOrOversizedHeaderLength_Throws()
    {
        string empty = _files.PathFor("empty.safetensors");
        File.WriteAllBytes(empty, []);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(empty)), empty, "file has 0 bytes, too short", "empty");

        string five = _files.PathFor("five.safetensors");
        File.WriteAllBytes(five, [1, 0, 0, 0, 0]);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(five)), five, "file has 5 bytes, too short", "five");

        string beyond = _files.WriteRaw("beyond.safetensors", "{" + GoodTensor + "}", new byte[16], headerLength: 5000);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(beyond)), beyond, "header length 5000 runs past the end of the", "beyond");

        string huge = _files.WriteRaw("huge.safetensors", "{}", [], headerLength: ulong.MaxValue);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(huge)), huge, $"header length {ulong.MaxValue} exceeds the 100000000-byte limit", "huge");

        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(_files.PathFor("missing.safetensors")));
    }

    [Fact]
    public void ReadFloat32_MissingTensorWrongShapeWrongDtypeWrongDestination_Throws()
    {
        string header = "{" + GoodTensor + ",\"ids\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[16,28]}}";
        string path = _files.WriteRaw("model.safetensors", header, new byte[28]);
        using var file = SafeTensorsFile.Open(path);

        AssertOneLine(Assert.Throws<InvalidDataException>(() => file.ReadFloat32("h.0.attn.c_attn.weight", [768, 2304])),
            path, "tensor 'h.0.attn.c_attn.weight' is missing (file has 'ids', 'w')", "missing");
        AssertOneLine(Assert.Throws<InvalidDataException>(() => file.ReadFloat32("w", [4])),
            path, "tensor 'w' has shape [2, 2], expected [4]", "shape");
        AssertOneLine(Assert.Throws<InvalidDataException>(() => file.ReadFloat32("w", [2, 2, 1])),
            path, "tensor 'w' has shape [2, 2], expected [2, 2, 1]", "rank");
        AssertOneLine(Assert.Throws<InvalidDataException>(() => file.ReadFloat32("ids", [3])),
            path, "tensor 'ids' has dtype I32, expected F32, F16, BF16 or F64", "dtype");
        var destination = Assert.Throws<ArgumentException>(() => file.ReadFloat32("w", new float[3], [2, 2]));
        Assert.Contains("tensor 'w' has 4 elements but the destination holds 3", destination.Message);
        Assert.Throws<ArgumentException>(() => file.ReadBytes("ids", new byte[11]));
    }

    [Fact]
    public void ReadFloat32_FileTruncatedAfterOpen_ThrowsInsteadOfReadingGarbage()
    {
        string path = _files.WriteRaw("model.safetensors", "{" + GoodTensor + "}", new byte[16]);
        using var file = SafeTensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(stream.Length - 4);
        AssertOneLine(Assert.Throws<InvalidDataException>(() => file.ReadFloat32("w", [2, 2])), path, "file ended before byte", "truncated");
    }

    // Hostile bytes beyond the hand-written cases: truncations of the PyTorch fixture (every length through the header
    // length field and the start of the JSON, then every 13th) and 600 seeded random byte flips in its header either
    // open cleanly or fail with the reader's one-line error.
    [Fact]
    public void Open_TruncatedAndCorruptedFixture_OnlyEverThrowsInvalidData()
    {
        byte[] original = File.ReadAllBytes(SafeTensorsTestFiles.Fixture("mixed_dtypes.safetensors"));
        string path = _files.PathFor("fuzz.safetensors");
        for (int length = 0; length < original.Length; length += length < 80 ? 1 : 13)
        {
            File.WriteAllBytes(path, original.AsSpan(0, length).ToArray());
            var error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
            Assert.DoesNotContain('\n', error.Message);
        }

        var random = new Random(20230828);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(original, 0);
        for (int trial = 0; trial < 600; trial++)
        {
            byte[] corrupted = (byte[])original.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++) corrupted[random.Next(0, headerEnd)] = (byte)random.Next(256);
            File.WriteAllBytes(path, corrupted);
            try
            {
                using var file = SafeTensorsFile.Open(path);
                foreach (var info in file.Tensors.Values)
                {
                    var bytes = new byte[info.ByteCount];
                    file.ReadBytes(info.Name, bytes);
                }
            }
            catch (InvalidDataException error)
            {
                Assert.StartsWith(path + ": ", error.Message);
                Assert.DoesNotContain('\n', error.Message);
            }
        }
    }

    private static void AssertOneLine(Exception error, string path, string expected, string description)
    {
        Assert.True(error.Message.StartsWith(path + ": ", StringComparison.Ordinal), $"{description}: {error.Message}");
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{description}: expected '{expected}' in '{error.Message}'");
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\r', error.Message);
    }
}
