using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Microsoft.Win32.SafeHandles;

namespace LmForge.Tensors.SafeTensors;

/// <summary>
/// A safetensors file opened for reading: an 8-byte little-endian header length N, N bytes of JSON header
/// ({name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}), then the data buffer.
/// The header is validated completely on <see cref="Open"/>; tensor data is read on demand with positioned reads
/// straight into the caller's memory (no whole-file copy), converting F16/BF16/F64 to float32.
/// Every error is an <see cref="InvalidDataException"/> with one line naming the file and the tensor.
/// </summary>
public sealed partial class SafeTensorsFile : IDisposable
{
    /// <summary>Largest header accepted; the reference implementation uses the same 100 MB cap.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle _handle;
    private readonly long _bufferStart;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;

    private SafeTensorsFile(string path, SafeFileHandle handle, long bufferStart,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _handle = handle;
        _bufferStart = bufferStart;
        _tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    /// <summary>Tensors by name, in no particular order.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;

    /// <summary>The "__metadata__" strings (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafeTensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine");
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8)
                throw SafeTensorsHeader.Error(path, $"file has {fileLength} bytes, too short for the 8-byte header length");
            Span<byte> lengthBytes = stackalloc byte[8];
            ReadExactly(handle, lengthBytes, 0);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > MaxHeaderBytes)
                throw SafeTensorsHeader.Error(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
            if ((long)headerLength > fileLength - 8)
                throw SafeTensorsHeader.Error(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file");

            byte[] header = ArrayPool<byte>.Shared.Rent((int)headerLength);
            try
            {
                var headerSpan = header.AsSpan(0, (int)headerLength);
                ReadExactly(handle, headerSpan, 8);
                long bufferStart = 8 + (long)headerLength;
                var (tensors, metadata) = SafeTensorsHeader.Parse(path, headerSpan, fileLength - bufferStart);
                return new SafeTensorsFile(path, handle, bufferStart, tensors, metadata);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(header);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Looks a tensor up, failing with a one-line error naming the file and the tensor.</summary>
    public SafeTensorInfo GetInfo(string name)
    {
        if (!_tensors.TryGetValue(name, out var info)) ThrowMissing(name);
        return info!;
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> into <paramref name="destination"/> as float32, after checking that its
    /// shape is <paramref name="expectedShape"/>, its dtype is a floating type (F32 is copied, F16/BF16/F64
    /// converted), and the destination holds exactly its element count.
    /// </summary>
    public void ReadFloat32(string name, Span<float> destination, ReadOnlySpan<int> expectedShape)
    {
        var info = CheckFloatTensor(name, expectedShape);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{Path}: tensor {SafeTensorsText.Quote(name)} has {info.ElementCount} elements but the destination holds {destination.Length}", nameof(destination));

        long offset = _bufferStart + info.DataBegin;
        if (info.DType == SafeTensorDType.F32)
        {
            // Straight into the caller's memory, in chunks that keep the byte count within an int.
            const int chunk = 1 << 28;
            for (int start = 0; start < destination.Length; start += chunk)
            {
                var part = destination.Slice(start, Math.Min(chunk, destination.Length - start));
                ReadExactly(MemoryMarshal.AsBytes(part), offset + (long)start * sizeof(float));
            }
            return;
        }

        int elementSize = info.DType.SizeInBytes();
        const int scratchElements = 1 << 16;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(scratchElements * elementSize);
        try
        {
            for (int start = 0; start < destination.Length; start += scratchElements)
            {
                int count = Math.Min(scratchElements, destination.Length - start);
                var bytes = scratch.AsSpan(0, count * elementSize);
                ReadExactly(bytes, offset + (long)start * elementSize);
                var target = destination.Slice(start, count);
                switch (info.DType)
                {
                    case SafeTensorDType.F16:
                        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), target);
                        break;
                    case SafeTensorDType.BF16:
                        ConvertBFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(bytes), target);
                        break;
                    default:
                        TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<byte, double>(bytes), target);
                        break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Reads tensor <paramref name="name"/> into a new float32 array (convenient for small tensors).</summary>
    public float[] ReadFloat32(string name, ReadOnlySpan<int> expectedShape)
    {
        var info = CheckFloatTensor(name, expectedShape);
        if (info.ElementCount > Array.MaxLength)
            throw SafeTensorsHeader.Error(Path, $"tensor {SafeTensorsText.Quote(name)} has {info.ElementCount} elements, too many for one array");
        var result = new float[info.ElementCount];
        ReadFloat32(name, result, expectedShape);
        return result;
    }

    /// <summary>Reads the raw little-endian bytes of tensor <paramref name="name"/>, whatever its dtype.</summary>
    public void ReadBytes(string name, Span<byte> destination)
    {
        var info = GetInfo(name);
        if (destination.Length != info.ByteCount)
            throw new ArgumentException($"{Path}: tensor {SafeTensorsText.Quote(name)} has {info.ByteCount} bytes but the destination holds {destination.Length}", nameof(destination));
        ReadExactly(destination, _bufferStart + info.DataBegin);
    }

    public void Dispose() => _handle.Dispose();

    // bf16 is the upper half of a float32: widen each 16-bit value and shift it into the high bits.
    private static void ConvertBFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        ref ushort src = ref MemoryMarshal.GetReference(source);
        ref uint dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                Vector256.ShiftLeft(lower, 16).StoreUnsafe(ref dst, (nuint)i);
                Vector256.ShiftLeft(upper, 16).StoreUnsafe(ref dst, (nuint)(i + Vector256<uint>.Count));
            }
        }
        for (; i < source.Length; i++) Unsafe.Add(ref dst, i) = (uint)Unsafe.Add(ref src, i) << 16;
    }

    /// <summary>
    /// Checks, without reading data, that tensor <paramref name="name"/> exists with shape <paramref name="expectedShape"/>
    /// and a floating dtype ReadFloat32 accepts; throws the same one-line errors ReadFloat32 would.
    /// </summary>
    public SafeTensorInfo CheckFloatTensor(string name, ReadOnlySpan<int> expectedShape)
    {
        var info = GetInfo(name);
        if (!ShapeEquals(info.Shape, expectedShape))
            throw SafeTensorsHeader.Error(Path, $"tensor {SafeTensorsText.Quote(name)} has shape {SafeTensorsText.Shape(info.Shape)}, expected {SafeTensorsText.Shape(expectedShape)}");
        if (info.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64))
            throw SafeTensorsHeader.Error(Path, $"tensor {SafeTensorsText.Quote(name)} has dtype {info.DType}, expected F32, F16, BF16 or F64");
        return info;
    }

    private static bool ShapeEquals(IReadOnlyList<int> shape, ReadOnlySpan<int> expected)
    {
        if (shape.Count != expected.Length) return false;
        for (int i = 0; i < expected.Length; i++)
        {
            if (shape[i] != expected[i]) return false;
        }
        return true;
    }

    private void ReadExactly(Span<byte> destination, long offset)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        try
        {
            ReadExactly(_handle, destination, offset);
        }
        catch (EndOfStreamException)
        {
            throw SafeTensorsHeader.Error(Path, $"file ended before byte {offset + destination.Length} (was it truncated after opening?)");
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(handle, destination, offset);
            if (read == 0) throw new EndOfStreamException();
            destination = destination[read..];
            offset += read;
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowMissing(string name)
    {
        string known = _tensors.Count <= 8
            ? string.Join(", ", _tensors.Keys.Order(StringComparer.Ordinal).Select(SafeTensorsText.Quote))
            : $"{_tensors.Count} tensors";
        throw SafeTensorsHeader.Error(Path, $"tensor {SafeTensorsText.Quote(name)} is missing (file has {known})");
    }
}
