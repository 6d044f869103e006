using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LmForge.Tokenization.Shards;

/// <summary>
/// Writes one llm.c token shard (<see cref="TokenShardFormat"/>). Tokens stream into <c>path.partial</c>;
/// <see cref="Complete"/> writes the header and renames the file into place, so a shard that exists under its
/// final name is always whole. Disposing without <see cref="Complete"/> deletes the partial file.
/// <code>
/// using var shard = new TokenShardWriter("train_000000.bin", vocabSize: 50257);
/// shard.Append(tokens);
/// shard.Complete();
/// </code>
/// </summary>
public sealed class TokenShardWriter : IDisposable
{
    readonly FileStream stream;
    readonly string partialPath;
    readonly int vocabSize;
    readonly int tokenBytes;
    byte[] scratch = new byte[1 << 16];
    long tokenCount;
    bool completed;

    public TokenShardWriter(string path, int vocabSize)
    {
        Path = path;
        this.vocabSize = vocabSize;
        tokenBytes = TokenShardFormat.TokenBytesFor(vocabSize);
        partialPath = path + ".partial";
        stream = new FileStream(partialPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(new byte[TokenShardFormat.HeaderBytes]);
    }

    public string Path { get; }

    public long TokenCount => tokenCount;

    /// <summary>Appends tokens; each must be in [0, vocabSize).</summary>
    public void Append(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(completed, this);
        if (tokenCount + tokens.Length > int.MaxValue)
            ThrowTooManyTokens();
        int needed = tokens.Length * tokenBytes;
        if (scratch.Length < needed)
            scratch = new byte[Math.Max(needed, scratch.Length * 2)];
        var bytes = scratch.AsSpan(0, needed);
        if (tokenBytes == 2)
        {
            for (int i = 0; i < tokens.Length; i++)
            {
                int token = tokens[i];
                if ((uint)token >= (uint)vocabSize)
                    ThrowBadToken(token, tokenCount + i);
                BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], (ushort)token);
            }
        }
        else
        {
            for (int i = 0; i < tokens.Length; i++)
            {
                int token = tokens[i];
                if ((uint)token >= (uint)vocabSize)
                    ThrowBadToken(token, tokenCount + i);
                BinaryPrimitives.WriteUInt32LittleEndian(bytes[(4 * i)..], (uint)token);
            }
        }
        stream.Write(bytes);
        tokenCount += tokens.Length;
    }

    /// <summary>Writes the header, flushes to disk and renames the shard into place (on failure, Dispose still removes the partial file).</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(completed, this);
        Span<int> header = stackalloc int[TokenShardFormat.HeaderInts];
        header.Clear();
        header[0] = tokenBytes == 2 ? TokenShardFormat.Uint16Magic : TokenShardFormat.Uint32Magic;
        header[1] = tokenBytes == 2 ? TokenShardFormat.Uint16Version : TokenShardFormat.Uint32Version;
        header[2] = (int)tokenCount;
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("token shards are little-endian");
        stream.Position = 0;
        stream.Write(MemoryMarshal.AsBytes(header));
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        File.Move(partialPath, Path, overwrite: true);
        completed = true;
    }

    /// <summary>Writes a whole shard at once.</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize)
    {
        using var writer = new TokenShardWriter(path, vocabSize);
        writer.Append(tokens);
        writer.Complete();
    }

    public void Dispose()
    {
        if (completed)
            return;
        completed = true;
        try
        {
            // A full disk fails this too (the buffered tokens cannot be flushed); the partial file goes all the same.
            stream.Dispose();
        }
        catch (IOException)
        {
        }
        finally
        {
            File.Delete(partialPath);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    void ThrowBadToken(int token, long index) =>
        throw new ArgumentOutOfRangeException(nameof(token), $"{Path}: token {token} at index {index} is outside the vocabulary [0, {vocabSize})");

    [MethodImpl(MethodImplOptions.NoInlining)]
    void ThrowTooManyTokens() =>
        throw new InvalidOperationException($"{Path}: a shard holds at most {int.MaxValue} tokens (the header count is an int32)");
}
