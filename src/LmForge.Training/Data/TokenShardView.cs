using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace LmForge.Training.Data;

/// <summary>
/// One llm.c token shard, memory-mapped: a header of 256 little-endian int32 (magic, version, token count), then the
/// tokens. Magic 20240520 (version 1) holds uint16 tokens (GPT-2 style vocabularies); magic 20240801 (version 7)
/// holds uint32 tokens (larger vocabularies), as llm.c writes them. The file size must agree with the header.
/// </summary>
public sealed unsafe class TokenShardView : IDisposable
{
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);
    public const int MagicUInt16 = 20240520;
    public const int MagicUInt32 = 20240801;

    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _tokens;

    TokenShardView(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* tokens, long count, int bytesPerToken)
    {
        Path = path;
        _file = file;
        _view = view;
        _tokens = tokens;
        TokenCount = count;
        BytesPerToken = bytesPerToken;
    }

    public string Path { get; }

    public long TokenCount { get; }

    /// <summary>2 for uint16 shards, 4 for uint32 shards.</summary>
    public int BytesPerToken { get; }

    public static TokenShardView Open(string path)
    {
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot open token shard ({e.Message})");
        }
        if (length < HeaderBytes)
            throw new InvalidDataException($"{path}: not a token shard: {length} bytes, shorter than the {HeaderBytes}-byte llm.c header");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        start += view.PointerOffset;
        try
        {
            var header = new ReadOnlySpan<int>(start, 3);
            int magic = header[0], version = header[1];
            int bytesPerToken = (magic, version) switch
            {
                (MagicUInt16, 1) => 2,
                (MagicUInt32, 7) => 4,
                (MagicUInt16 or MagicUInt32, _) => throw new InvalidDataException(
                    $"{path}: token shard version {version} is not supported; expected 1 (magic {MagicUInt16}) or 7 (magic {MagicUInt32})"),
                _ => throw new InvalidDataException(
                    $"{path}: not a token shard: magic {magic}, expected {MagicUInt16} (uint16 tokens) or {MagicUInt32} (uint32 tokens)"),
            };
            long count = (uint)header[2];
            long expected = HeaderBytes + count * bytesPerToken;
            if (expected != length)
                throw new InvalidDataException(
                    $"{path}: token shard is {length} bytes but its header says {count} tokens ({expected} bytes); the file is truncated or corrupt");
            return new TokenShardView(path, file, view, start + HeaderBytes, count, bytesPerToken);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Copies tokens [start, start + destination.Length) into <paramref name="destination"/>, widened to int.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > TokenCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: tokens [{start}, {start + destination.Length}) are outside the shard's {TokenCount}");
        if (BytesPerToken == 2)
        {
            var source = new ReadOnlySpan<ushort>(_tokens + start * 2, destination.Length);
            for (int i = 0; i < source.Length; i++) destination[i] = source[i];
        }
        else
        {
            var source = new ReadOnlySpan<uint>(_tokens + start * 4, destination.Length);
            MemoryMarshal.Cast<uint, int>(source).CopyTo(destination);
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
