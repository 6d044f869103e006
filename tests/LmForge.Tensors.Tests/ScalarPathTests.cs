using System.Runtime.Intrinsics.X86;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>
/// test.sh re-runs these tests with DOTNET_EnableAVX2=0 to prove the scalar fallbacks; this checks that the switch
/// really reaches the kernels, so the second run cannot silently test the vector path again.
/// </summary>
public sealed class ScalarPathTests
{
    [Fact]
    public void The_backend_uses_the_path_the_environment_selects()
    {
        bool avx2SwitchedOff = Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0";
        if (avx2SwitchedOff)
        {
            Assert.False(Avx2.IsSupported);
            Assert.False(Fma.IsSupported);
            Assert.Equal("cpu (scalar)", CpuBackend.Shared.Name);
        }
        else if (Avx2.IsSupported && Fma.IsSupported)
        {
            Assert.Equal("cpu (AVX2)", CpuBackend.Shared.Name);
        }
    }
}
