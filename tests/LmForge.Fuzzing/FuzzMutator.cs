using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace LmForge.Fuzzing;

/// <summary>One fuzz case's input: every file of the target (null: the file is missing) and what was done to it.</summary>
public sealed record FuzzInput(long Index, IReadOnlyDictionary<string, byte[]?> Files, string Description);

/// <summary>
/// Turns a target's valid files into case <c>index</c> of seed <c>seed</c>, the same bytes on every run: one file is
/// picked and given one to three mutations (truncation, bit flips, interesting integers at header offsets, numbers made
/// huge or negative, lines or chunks duplicated and dropped, garbage, an empty file, and in JSON values, keys, types and
/// array lengths edited in the tree), or, in a target of several files, removed.
/// </summary>
public static class FuzzMutator
{
    public static FuzzInput Mutate(FuzzTarget target, int seed, long index)
    {
        var random = new Random(CaseSeed(seed, index));
        var files = target.Files.ToDictionary(f => f.Name, f => (byte[]?)f.Seed);
        var mutable = target.Files.Where(f => f.Mutable).ToList();
        var file = mutable[random.Next(mutable.Count)];
        if (mutable.Count > 1 && random.Next(20) == 0)
        {
            files[file.Name] = null;
            return new FuzzInput(index, files, $"{file.Name}: removed");
        }
        var steps = new List<string>();
        byte[] bytes = file.Seed;
        int count = 1 + random.Next(random.Next(4) == 0 ? 3 : 1);
        for (int i = 0; i < count; i++) bytes = MutateOnce(bytes, file.Kind, target.Words, random, steps);
        files[file.Name] = bytes;
        return new FuzzInput(index, files, $"{file.Name}: {string.Join(", ", steps)}");
    }

    // SplitMix64 of (seed, index), so case i of a seed does not depend on the cases run before it.
    static int CaseSeed(int seed, long index)
    {
        ulong z = ((ulong)(uint)seed << 32) ^ (ulong)index;
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return (int)(z ^ (z >> 31));
    }

    static byte[] MutateOnce(byte[] bytes, FuzzFileKind kind, IReadOnlyList<string> words, Random random, List<string> steps)
    {
        // Structure-aware mutations half of the time where the kind has a structure, byte mutations otherwise.
        bool structured = random.Next(2) == 0;
        switch (kind)
        {
            case FuzzFileKind.Json when structured:
                return JsonMutator.Mutate(bytes, words, random, steps) ?? Bytes(bytes, random, steps);
            case FuzzFileKind.JsonLines when structured:
                return JsonLine(bytes, words, random, steps) ?? Text(bytes, random, steps);
            case FuzzFileKind.SafeTensors when structured:
                return SafeTensorsHeader(bytes, words, random, steps) ?? Bytes(bytes, random, steps);
            case FuzzFileKind.GzipText when structured && Gunzip(bytes) is { } plain:
                steps.Add("gunzipped");
                byte[] mutated = Text(plain, random, steps);
                steps.Add("gzipped");
                return Gzip(mutated);
            case FuzzFileKind.Text or FuzzFileKind.Json or FuzzFileKind.JsonLines when random.Next(2) == 0:
                return Text(bytes, random, steps);
            default:
                return Bytes(bytes, random, steps);
        }
    }

    static readonly long[] InterestingIntegers =
        [0, 1, -1, 2, 127, 128, 255, 256, 1023, 1024, 32767, 32768, 65535, 65536, int.MaxValue, int.MinValue, uint.MaxValue,
         1L << 32, long.MaxValue, long.MinValue, 1L << 40, 100_000_001, -1024];

    static byte[] Bytes(byte[] bytes, Random random, List<string> steps)
    {
        switch (random.Next(10))
        {
            case 0:
            {
                int at = random.Next(bytes.Length + 1);
                steps.Add($"truncated at {at}");
                return bytes[..at];
            }
            case 1:
            {
                if (bytes.Length == 0) goto case 6;
                var copy = (byte[])bytes.Clone();
                int flips = 1 + random.Next(8);
                for (int i = 0; i < flips; i++)
                {
                    int at = random.Next(copy.Length);
                    copy[at] ^= (byte)(1 << random.Next(8));
                }
                steps.Add($"{flips} bits flipped");
                return copy;
            }
            case 2:
            {
                if (bytes.Length == 0) goto case 6;
                var copy = (byte[])bytes.Clone();
                int n = 1 + random.Next(16);
                for (int i = 0; i < n; i++) copy[random.Next(copy.Length)] = (byte)random.Next(256);
                steps.Add($"{n} bytes randomized");
                return copy;
            }
            case 3:
            case 4:
            {
                // A header field (size, offset, count, version) set to an edge value: aligned in the first KiB.
                if (bytes.Length < 2) goto case 6;
                int width = random.Next(3) switch { 0 => 2, 1 => 4, _ => 8 };
                int limit = Math.Min(bytes.Length, 1024) - width;
                if (limit < 0) goto case 6;
                int at = random.Next(2) == 0 ? random.Next(limit / width + 1) * width : random.Next(limit + 1);
                at = Math.Min(at, limit);
                long value = random.Next(4) == 0 ? bytes.Length + random.Next(-8, 9) : InterestingIntegers[random.Next(InterestingIntegers.Length)];
                var copy = (byte[])bytes.Clone();
                var span = copy.AsSpan(at, width);
                if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(span, (short)value);
                else if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(span, (int)value);
                else BinaryPrimitives.WriteInt64LittleEndian(span, value);
                steps.Add($"int{width * 8} {value} at {at}");
                return copy;
            }
            case 5:
            {
                int at = random.Next(bytes.Length + 1);
                var garbage = new byte[1 + random.Next(random.Next(2) == 0 ? 16 : 512)];
                random.NextBytes(garbage);
                steps.Add($"{garbage.Length} garbage bytes inserted at {at}");
                return [.. bytes.AsSpan(0, at), .. garbage, .. bytes.AsSpan(at)];
            }
            case 6:
            {
                if (random.Next(3) == 0)
                {
                    steps.Add("emptied");
                    return [];
                }
                var garbage = new byte[random.Next(4096)];
                random.NextBytes(garbage);
                steps.Add($"replaced by {garbage.Length} random bytes");
                return garbage;
            }
            case 7:
            {
                if (bytes.Length == 0) goto case 6;
                int at = random.Next(bytes.Length), length = 1 + random.Next(Math.Min(bytes.Length - at, 256));
                steps.Add($"{length} bytes at {at} removed");
                return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + length)];
            }
            default:
            {
                if (bytes.Length == 0) goto case 6;
                int at = random.Next(bytes.Length), length = 1 + random.Next(Math.Min(bytes.Length - at, 256));
                int to = random.Next(bytes.Length + 1);
                steps.Add($"{length} bytes at {at} copied to {to}");
                return [.. bytes.AsSpan(0, to), .. bytes.AsSpan(at, length), .. bytes.AsSpan(to)];
            }
        }
    }

    static readonly string[] InterestingNumbers =
        ["0", "-1", "-2147483648", "2147483647", "2147483648", "4294967296", "9223372036854775807", "99999999999999999999999",
         "-99999999999999999999", "1e309", "-1e309", "1.5", "NaN", "0x10", "1e-400", "007", ""];

    static byte[] Text(byte[] bytes, Random random, List<string> steps)
    {
        var lines = Lines(bytes);
        switch (random.Next(4))
        {
            case 0:
            {
                // A number (a length, size, count, id, rank) made edge: find a digit run, replace it.
                var digits = new List<(int Start, int Length)>();
                for (int i = 0; i < bytes.Length;)
                {
                    if (bytes[i] is >= (byte)'0' and <= (byte)'9')
                    {
                        int start = i;
                        while (i < bytes.Length && bytes[i] is >= (byte)'0' and <= (byte)'9') i++;
                        digits.Add((start, i - start));
                    }
                    else i++;
                }
                if (digits.Count == 0) return Bytes(bytes, random, steps);
                var (at, length) = digits[random.Next(digits.Count)];
                string number = InterestingNumbers[random.Next(InterestingNumbers.Length)];
                steps.Add($"number at {at} set to '{number}'");
                return [.. bytes.AsSpan(0, at), .. Encoding.ASCII.GetBytes(number), .. bytes.AsSpan(at + length)];
            }
            case 1:
            {
                if (lines.Count == 0) return Bytes(bytes, random, steps);
                int line = random.Next(lines.Count), to = random.Next(lines.Count + 1);
                int copies = random.Next(4) == 0 ? 1 + random.Next(50) : 1;
                steps.Add($"line {line + 1} copied {copies}x before line {to + 1}");
                lines.InsertRange(to, Enumerable.Repeat(lines[line], copies));
                return Join(lines);
            }
            case 2:
            {
                if (lines.Count == 0) return Bytes(bytes, random, steps);
                int line = random.Next(lines.Count);
                steps.Add($"line {line + 1} removed");
                lines.RemoveAt(line);
                return Join(lines);
            }
            default:
            {
                // A very long line of one character, where readers that hold a line whole must bound it.
                int line = random.Next(lines.Count + 1);
                byte c = (byte)"a \"{[0\t\\"[random.Next(8)];
                int length = random.Next(2) == 0 ? 1 + random.Next(256) : 1 << 16;
                steps.Add($"line of {length} '{(char)c}' inserted before line {line + 1}");
                var inserted = new byte[length + 1];
                inserted.AsSpan(0, length).Fill(c);
                inserted[^1] = (byte)'\n';
                lines.Insert(line, inserted);
                return Join(lines);
            }
        }
    }

    // Lines with their terminators, so joining them gives the bytes back.
    static List<byte[]> Lines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n') continue;
            lines.Add(bytes[start..(i + 1)]);
            start = i + 1;
        }
        if (start < bytes.Length) lines.Add(bytes[start..]);
        return lines;
    }

    static byte[] Join(List<byte[]> lines) => [.. lines.SelectMany(l => l)];

    static byte[]? JsonLine(byte[] bytes, IReadOnlyList<string> words, Random random, List<string> steps)
    {
        var lines = Lines(bytes);
        if (lines.Count == 0) return null;
        int line = random.Next(lines.Count);
        byte[] text = lines[line];
        bool newline = text.Length > 0 && text[^1] == (byte)'\n';
        var mutated = JsonMutator.Mutate(newline ? text[..^1] : text, words, random, steps, compact: true);
        if (mutated is null) return null;
        steps.Add($"in line {line + 1}");
        lines[line] = newline ? [.. mutated, (byte)'\n'] : mutated;
        return Join(lines);
    }

    // The JSON header mutated in the tree and written back behind its new length (sometimes the old one).
    static byte[]? SafeTensorsHeader(byte[] bytes, IReadOnlyList<string> words, Random random, List<string> steps)
    {
        if (bytes.Length < 8) return null;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (length > (ulong)(bytes.Length - 8)) return null;
        var header = bytes[8..(8 + (int)length)];
        var mutated = JsonMutator.Mutate(header, words, random, steps, compact: true);
        if (mutated is null) return null;
        bool keepLength = random.Next(8) == 0;
        if (keepLength) steps.Add("old header length kept");
        var result = new byte[8 + mutated.Length + bytes.Length - 8 - (int)length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, keepLength ? length : (ulong)mutated.Length);
        mutated.CopyTo(result, 8);
        bytes.AsSpan(8 + (int)length).CopyTo(result.AsSpan(8 + mutated.Length));
        return result;
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    // The decompressed bytes, or null when an earlier mutation broke the compressed stream.
    static byte[]? Gunzip(byte[] bytes)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
