using System.Buffers.Binary;
using LmForge.Data.Dedup;

namespace LmForge.Data.Tests.Dedup;

public class RemoveListTests
{
    [Fact]
    public void Reads_back_what_was_written()
    {
        using var dir = new TempDirectory();
        var path = dir.File(RemoveList.FileName(1));
        RemoveList.Write(path, 1, 2, 0, 1, [7, 3, 5]);
        Assert.Equal([3u, 5u, 7u], RemoveList.ReadAll([path], 1, 2));
    }

    [Theory]
    [InlineData((1UL << 62) + 3)] // x 4 bytes wraps to 12: the length would match a file of three records
    [InlineData((1UL << 63) + 3)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 28)]
    public void A_record_count_the_file_cannot_hold_is_a_one_line_error_naming_the_file(ulong count)
    {
        using var dir = new TempDirectory();
        var path = dir.File(RemoveList.FileName(0));
        RemoveList.Write(path, 0, 1, 0, 1, [1, 2, 3]);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), count);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => RemoveList.ReadAll([path], 0, 1));
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains(count.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
