using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LmForge.Tensors.Cpu;

namespace LmForge.Tensors.Tests;

/// <summary>
/// test.sh re-runs these tests with DOTNET_EnableAVX2=0 to prove the scalar fallbacks, and with DOTNET_EnableAVX512=0
/// to prove the 256-bit paths of kernels that prefer 512-bit vectors; this checks that the switches really reach the
/// kernels, so those runs cannot silently test the default paths again.
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
        else if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            Assert.Equal("cpu (AVX-512)", CpuBackend.Shared.Name);
            Assert.Equal("AVX-512", GemmKernel.InstructionSet);
            Assert.Equal(32, GemmKernel.Nr);
        }
        else if (Avx2.IsSupported && Fma.IsSupported)
        {
            Assert.Equal("cpu (AVX2)", CpuBackend.Shared.Name);
            Assert.Equal(16, GemmKernel.Nr);
        }
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.NotEqual("AVX-512", GemmKernel.InstructionSet);
        }
    }
}
