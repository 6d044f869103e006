namespace LmForge.Models.Tests;

/// <summary>
/// Comparison with a PyTorch reference tensor: the largest error relative to the tensor's largest reference value, so a
/// tensor of small values is held to the same relative standard as a large one. An all-zero reference must be met exactly.
/// </summary>
internal static class ReferenceAssert
{
    public static void Close(Xunit.Abstractions.ITestOutputHelper output, string name, float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs((double)v));
        double maxError = 0;
        int worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]);
            if (error > maxError)
            {
                maxError = error;
                worst = i;
            }
        }
        output.WriteLine($"{name}: max error / max |torch| = {(scale == 0 ? maxError : maxError / scale):E2}");
        if (scale == 0)
        {
            Assert.True(maxError == 0, $"{name}: expected all zeros, element {worst} is {actual[worst]}");
            return;
        }
        Assert.True(maxError <= tolerance * scale,
            $"{name}: max error {maxError:E2} at {worst} ({actual[worst]} vs torch {expected[worst]}) exceeds {tolerance:E0} × {scale:E2}");
    }
}
