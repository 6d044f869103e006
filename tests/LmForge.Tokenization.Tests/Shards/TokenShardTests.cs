using LmForge.Tokenization.Shards;

namespace LmForge.Tokenization.Tests.Shards;

public sealed class TokenShardTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("lmforge-shard-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "shards", name);

    static int[] FixtureTokens(string name) =>
        File.ReadAllText(Fixture(name)).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

    [Theory]
    [InlineData("gpt2_uint16", 50257)]
    [InlineData("llama3_uint32", 128256)]
    public void Writer_ProducesTheBytesOfLlmcWriteDatafile(string name, int vocabSize)
    {
        var tokens = FixtureTokens(name + ".tokens.txt");
        string path = Path.Combine(directory, name + ".bin");
        TokenShardWriter.Write(path, tokens, vocabSize);
        Assert.Equal(File.ReadAllBytes(Fixture(name + ".bin")), File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("gpt2_uint16", 2)]
    [InlineData("llama3_uint32", 4)]
    public void Reader_ReadsLlmcShards(string name, int tokenBytes)
    {
        using var reader = TokenShardReader.Open(Fixture(name + ".bin"));
        Assert.Equal(tokenBytes, reader.TokenBytes);
        var expected = FixtureTokens(name + ".tokens.txt");
        Assert.Equal(expected.Length, reader.TokenCount);
        var middle = new int[100];
        reader.Read(250, middle);
        Assert.Equal(expected[250..350], middle);
        Assert.Equal(expected, TokenShardReader.ReadAll(Fixture(name + ".bin")));
    }

    [Fact]
    public void StreamingAppends_EqualOneWrite_AndLeaveNoPartialFile()
    {
        var random = new Random(20230828);
        var tokens = Enumerable.Range(0, 200_000).Select(_ => random.Next(65536)).ToArray();
        string path = Path.Combine(directory, "s.bin");
        using (var writer = new TokenShardWriter(path, vocabSize: 65536))
        {
            for (int i = 0; i < tokens.Length; i += 7777)
                writer.Append(tokens.AsSpan(i, Math.Min(7777, tokens.Length - i)));
            Assert.False(File.Exists(path));
            writer.Complete();
        }
        Assert.Equal(tokens, TokenShardReader.ReadAll(path));
        Assert.Equal(1024 + 2 * tokens.Length, new FileInfo(path).Length);
        Assert.Empty(Directory.GetFiles(directory, "*.partial"));
    }

    [Fact]
    public void Abandoned_Writer_LeavesNothing()
    {
        string path = Path.Combine(directory, "abandoned.bin");
        using (var writer = new TokenShardWriter(path, vocabSize: 300))
            writer.Append([1, 2, 3]);
        Assert.Empty(Directory.GetFiles(directory));
    }

    [Fact]
    public void FullDisk_LeavesNoPartialFile()
    {
        if (!File.Exists("/dev/full"))
            return;
        // The partial file is a link to /dev/full, where every write fails with ENOSPC as on a full disk.
        string path = Path.Combine(directory, "full.bin");
        File.CreateSymbolicLink(path + ".partial", "/dev/full");
        var writer = new TokenShardWriter(path, vocabSize: 300);
        Assert.ThrowsAny<IOException>(() =>
        {
            writer.Append(new int[1 << 20]);
            writer.Complete();
        });
        writer.Dispose();
        Assert.Empty(Directory.GetFiles(directory));
    }

    [Fact]
    public void TokenOutsideVocabulary_Throws()
    {
        using var writer = new TokenShardWriter(Path.Combine(directory, "v.bin"), vocabSize: 300);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => writer.Append([1, 300]));
        Assert.Contains("token 300 at index 1 is outside the vocabulary [0, 300)", e.Message);
    }

    [Fact]
    public void WrongMagic_Throws()
    {
        string path = CopyFixture("gpt2_uint16.bin");
        Patch(path, 0, 12345);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardReader.Open(path));
        Assert.Equal($"{path}: magic 12345, expected 20240520 (uint16 tokens) or 20240801 (uint32 tokens); not an llm.c token shard", e.Message);
    }

    [Fact]
    public void WrongVersion_Throws()
    {
        string path = CopyFixture("gpt2_uint16.bin");
        Patch(path, 4, 2);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardReader.Open(path));
        Assert.Equal($"{path}: version 2, expected 1 for magic 20240520", e.Message);
    }

    [Fact]
    public void CountDisagreeingWithSize_Throws()
    {
        string path = CopyFixture("gpt2_uint16.bin");
        Patch(path, 8, 1001);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardReader.Open(path));
        Assert.Equal($"{path}: file is 3024 bytes but the header's 1001 tokens × 2 bytes need 3026 (truncated or not a shard)", e.Message);
    }

    [Fact]
    public void TruncatedTokens_Throws()
    {
        string path = CopyFixture("llama3_uint32.bin");
        using (var f = File.OpenWrite(path))
            f.SetLength(f.Length - 3);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardReader.Open(path));
        Assert.Contains("truncated or not a shard", e.Message);
    }

    [Fact]
    public void TruncatedHeader_Throws()
    {
        string path = Path.Combine(directory, "short.bin");
        File.WriteAllBytes(path, new byte[100]);
        var e = Assert.Throws<InvalidDataException>(() => TokenShardReader.Open(path));
        Assert.Equal($"{path}: file is 100 bytes, shorter than the 1024-byte header", e.Message);
    }

    [Fact]
    public void ReadOutsideTheShard_Throws()
    {
        using var reader = TokenShardReader.Open(Fixture("gpt2_uint16.bin"));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.Read(990, new int[20]));
    }

    string CopyFixture(string name)
    {
        string path = Path.Combine(directory, name);
        File.Copy(Fixture(name), path);
        return path;
    }

    static void Patch(string path, int offset, int value)
    {
        using var f = File.OpenWrite(path);
        f.Position = offset;
        f.Write(BitConverter.GetBytes(value));
    }
}
