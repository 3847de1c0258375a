namespace FlowService.Model.Tests.Neural;

/// <summary>The inputs and the comparison the convolution kernels' tests share: uniform values and a float-vs-double check.</summary>
internal static class KernelTestValues
{
    /// <summary><paramref name="length"/> values uniform in [-1, 1), reproducible from <paramref name="seed"/>.</summary>
    public static float[] Uniform(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>A float kernel's output against the same sum in double: within 1e-4 relative (and 1e-4 absolute near zero).</summary>
    public static void AssertClose(double expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");
}
