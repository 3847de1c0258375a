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

    /// <summary>‖actual − expected‖ / ‖expected‖ ≤ <paramref name="relative"/> (in double), and no NaN where the expected value has none.</summary>
    public static void NormClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) && !float.IsNaN(expected[i]), $"{what}[{i}]: CUDA gave NaN, CPU {expected[i]}");
            double d = (double)actual[i] - expected[i];
            difference += d * d;
            norm += (double)expected[i] * expected[i];
        }
        double error = Math.Sqrt(difference) / Math.Max(Math.Sqrt(norm), 1e-30);
        Assert.True(error <= relative, $"{what}: ‖CUDA − CPU‖ / ‖CPU‖ = {error:g3} > {relative:g3}");
    }

    public static float[] Random(Random random, int count, float scale = 1f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return values;
    }
}
