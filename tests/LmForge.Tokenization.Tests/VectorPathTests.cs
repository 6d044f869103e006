using System.Runtime.Intrinsics;

namespace LmForge.Tokenization.Tests;

/// <summary>
/// test.sh re-runs the tokenizer tests with DOTNET_EnableHWIntrinsic=0 to prove the scalar paths of the piece scanners
/// and the UTF-8 narrowing; this checks that the switch really reaches the tokenizer, so that run cannot silently test
/// the vector paths again (and that a default run on vector hardware takes them).
/// </summary>
public sealed class VectorPathTests
{
    [Fact]
    public void The_tokenizer_takes_the_vector_path_the_environment_selects()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0")
        {
            Assert.False(Vector128.IsHardwareAccelerated);
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.Equal("scalar", ScanRules.VectorPath);
        }
        else
        {
            Assert.Equal(Vector128.IsHardwareAccelerated ? "Vector128" : "scalar", ScanRules.VectorPath);
            if (System.Runtime.Intrinsics.X86.Sse2.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
                Assert.Equal("Vector128", ScanRules.VectorPath);
        }
    }
}
