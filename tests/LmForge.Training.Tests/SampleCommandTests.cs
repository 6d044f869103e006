namespace LmForge.Training.Tests;

/// <summary>`lmforge sample` bad input: a request for no samples is an error, not a silent success.</summary>
public class SampleCommandTests
{
    [Fact]
    public void Zero_samples_is_a_one_line_error()
    {
        string checkpoint = LmForge.Tests.Shared.ChatCheckpoint.Create(TestFiles.TemporaryDirectory("sample-count"), width: 32, layers: 1, context: 32);
        var (exitCode, output, errors) = TestFiles.RunTool("sample", "--checkpoint", checkpoint, "--count", "0");
        Assert.Equal(1, exitCode);
        Assert.Equal("error: --count 0: expected at least 1 sample per prompt", errors.Trim());
        Assert.Equal("", output.Trim());
    }
}
