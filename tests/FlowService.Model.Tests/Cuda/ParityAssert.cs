namespace FlowService.Model.Tests.Cuda;

/// <summary>Comparisons of CUDA results with the CPU backend's.</summary>
public static class ParityAssert
{
    /// <summary>Every element within <paramref name="relative"/> of the expected value (absolute near zero, below 1).</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            Assert.False(double.IsNaN(a) && !double.IsNaN(e), $"{what}[{i}]: CUDA gave NaN, CPU {e}");
            double tolerance = relative * Math.Max(1.0, Math.Abs(e));
            Assert.True(Math.Abs(a - e) <= tolerance, $"{what}[{i}]: CUDA {a} vs CPU {e} (|diff| {Math.Abs(a - e):g3} > {tolerance:g3})");
        }
    }

    public static float[] Random(Random random, int count, float scale = 1f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return values;
    }
}
