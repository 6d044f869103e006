using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace LmForge.Tokenization.Shards;

/// <summary>
/// Reads an llm.c token shard (<see cref="TokenShardFormat"/>) after checking the header: magic, version that
/// belongs to it, a non-negative token count, and a file size equal to 1024 + count × token width.
/// Any mismatch is an <see cref="InvalidDataException"/> with a one-line message naming the file.
/// <code>
/// using var shard = TokenShardReader.Open("train_000000.bin");
/// var tokens = new int[shard.TokenCount];
/// shard.Read(0, tokens);
/// </code>
/// </summary>
public sealed class TokenShardReader : IDisposable
{
    readonly SafeFileHandle handle;
    byte[] scratch = [];

    TokenShardReader(string path, SafeFileHandle handle, int tokenBytes, long tokenCount)
    {
        Path = path;
        this.handle = handle;
        TokenBytes = tokenBytes;
        TokenCount = tokenCount;
    }

    public string Path { get; }

    /// <summary>2 (uint16 tokens) or 4 (uint32 tokens).</summary>
    public int TokenBytes { get; }

    public long TokenCount { get; }

    public static TokenShardReader Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length < TokenShardFormat.HeaderBytes)
                Throw(path, $"file is {length} bytes, shorter than the {TokenShardFormat.HeaderBytes}-byte header");
            Span<byte> header = stackalloc byte[12];
            RandomAccess.Read(handle, header, 0);
            int magic = BinaryPrimitives.ReadInt32LittleEndian(header);
            int version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            int count = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
            int tokenBytes = magic switch
            {
                TokenShardFormat.Uint16Magic when version == TokenShardFormat.Uint16Version => 2,
                TokenShardFormat.Uint32Magic when version == TokenShardFormat.Uint32Version => 4,
                TokenShardFormat.Uint16Magic => Throw(path, $"version {version}, expected {TokenShardFormat.Uint16Version} for magic {magic}"),
                TokenShardFormat.Uint32Magic => Throw(path, $"version {version}, expected {TokenShardFormat.Uint32Version} for magic {magic}"),
                _ => Throw(path, $"magic {magic}, expected {TokenShardFormat.Uint16Magic} (uint16 tokens) or {TokenShardFormat.Uint32Magic} (uint32 tokens); not an llm.c token shard"),
            };
            if (count < 0)
                Throw(path, $"header token count {count} is negative");
            long expected = TokenShardFormat.HeaderBytes + (long)count * tokenBytes;
            if (length != expected)
                Throw(path, $"file is {length} bytes but the header's {count} tokens × {tokenBytes} bytes need {expected} (truncated or not a shard)");
            return new TokenShardReader(path, handle, tokenBytes, count);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads all tokens of a shard.</summary>
    public static int[] ReadAll(string path)
    {
        using var reader = Open(path);
        var tokens = new int[reader.TokenCount];
        reader.Read(0, tokens);
        return tokens;
    }

    /// <summary>Reads <c>destination.Length</c> tokens starting at token <paramref name="start"/>.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > TokenCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: tokens [{start}, {start + destination.Length}) are outside [0, {TokenCount})");
        const int block = 1 << 16;
        if (scratch.Length < block * TokenBytes)
            scratch = new byte[block * TokenBytes];
        long offset = TokenShardFormat.HeaderBytes + start * TokenBytes;
        while (!destination.IsEmpty)
        {
            int n = Math.Min(block, destination.Length);
            var bytes = scratch.AsSpan(0, n * TokenBytes);
            int read = 0;
            while (read < bytes.Length)
            {
                int r = RandomAccess.Read(handle, bytes[read..], offset + read);
                if (r == 0)
                    Throw(Path, $"file ended at byte {offset + read} while reading tokens (changed while open?)");
                read += r;
            }
            if (TokenBytes == 2)
                for (int i = 0; i < n; i++)
                    destination[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]);
            else
                for (int i = 0; i < n; i++)
                    destination[i] = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[(4 * i)..]);
            destination = destination[n..];
            offset += bytes.Length;
        }
    }

    public void Dispose() => handle.Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    static int Throw(string path, string what) => throw new InvalidDataException($"{path}: {what}");
}
