using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LmForge.Tensors.Cpu;

namespace LmForge.Models.Tests;

/// <summary>
/// test.sh re-runs the model tests with DOTNET_EnableAVX2=0 to prove the models on the scalar kernels and with
/// DOTNET_EnableAVX512=0 on the 256-bit ones; this checks that the switch really reaches the backend the models run on,
/// so those runs cannot silently test the widest path again.
/// </summary>
public sealed class ScalarPathTests
{
    [Fact]
    public void The_models_run_on_the_backend_path_the_environment_selects()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0")
        {
            Assert.False(Avx2.IsSupported);
            Assert.Equal("cpu (scalar)", CpuBackend.Shared.Name);
        }
        else if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            Assert.Equal("cpu (AVX-512)", CpuBackend.Shared.Name);
        }
        else if (Avx2.IsSupported && Fma.IsSupported)
        {
            Assert.Equal("cpu (AVX2)", CpuBackend.Shared.Name);
        }
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.Equal(Avx2.IsSupported ? "cpu (AVX2)" : "cpu (scalar)", CpuBackend.Shared.Name);
        }
    }
}
