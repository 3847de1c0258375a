using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>
/// <see cref="RationalQuadraticSplineKernel"/> (the CPU backend's row kernel) against the scalar
/// reference <see cref="RationalQuadraticSpline"/> run in double, at every row width 0..257.
/// Gradients are held to 1e-4 relative, or, where float32 cannot reach that, to 4x the error of the
/// float32 scalar reference itself or a few float ulps of the terms that cancel: a parameter gradient
/// is 2B p_j (g_j - Σ p_i g_i) with g of the order of dL/dx (up to 1/slope), which at x = ±B is 0
/// in exact arithmetic and float32 rounding of Σ p_i alone leaves 1e-7 |dL/dx| 2B behind.
/// </summary>
public sealed class RationalQuadraticSplineKernelTests
{
    private const float Bound = 2.5f;
    private const int Rows = 2;

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(10)]
    public void Every_width_0_to_257_matches_the_double_reference_inside_and_outside_the_tail_bound(int bins)
    {
        var random = new Random(bins);
        for (int features = 0; features <= 257; features++)
        {
            var (x, parameters) = Batch(random, features, bins);
            var y = new float[x.Length];
            var logDet = Enumerable.Repeat(10f, Rows).ToArray();
            RationalQuadraticSplineKernel.Forward(x, parameters, Rows, features, bins, Bound, y, logDet);
            var back = new float[x.Length];
            RationalQuadraticSplineKernel.Inverse(y, parameters, Rows, features, bins, Bound, back);
            var dy = x.Select((_, i) => (float)Math.Sin(i + 1)).ToArray();
            var dLogDet = new[] { 0.7f, -1.3f };
            var dx = new float[x.Length];
            var dParameters = Enumerable.Repeat(float.NaN, parameters.Length).ToArray();   // overwritten, not accumulated
            RationalQuadraticSplineKernel.Backward(x, parameters, dy, dLogDet, Rows, features, bins, Bound, dx, dParameters);

            int width = features * (3 * bins - 1);
            for (int r = 0; r < Rows; r++)
            {
                double sum = 0, magnitude = 0;
                for (int i = 0; i < features; i++)
                {
                    int at = r * features + i;
                    var (w, h, d, slots) = Element(parameters, r * width, features, bins, i);
                    string where = $"K={bins} D={features} row {r} feature {i} x={x[at]}";
                    double expected = RationalQuadraticSpline.Forward((double)x[at], w, h, d, Bound, out double logSlope);
                    var (fw, fh, fd) = (w.Select(v => (float)v).ToArray(), h.Select(v => (float)v).ToArray(), d.Select(v => (float)v).ToArray());
                    float floatY = RationalQuadraticSpline.Forward(x[at], fw, fh, fd, Bound, out float floatLogSlope);
                    sum += logSlope;
                    magnitude += Math.Abs(logSlope) + 4 * Math.Abs(floatLogSlope - logSlope);
                    double yTolerance = Math.Max(2e-6 * (1 + Math.Abs(expected)), 4 * Math.Abs(floatY - expected));
                    Assert.True(Math.Abs(expected - y[at]) <= yTolerance, $"{where}: y {y[at]} vs {expected}, float reference {floatY}");

                    // The inverse of the float y, checked in y-space: where the spline is flat (slopes near the
                    // 1e-3 floor) x is ill-conditioned in y, but F(inverse(y)) must give y back.
                    double roundTrip = RationalQuadraticSpline.Forward((double)back[at], w, h, d, Bound, out _);
                    double floatRoundTrip = RationalQuadraticSpline.Forward((double)RationalQuadraticSpline.Inverse(y[at], fw, fh, fd, Bound), w, h, d, Bound, out _);
                    double inverseTolerance = Math.Max(2e-6 * (1 + Math.Abs(y[at])), 4 * Math.Abs(floatRoundTrip - y[at]));
                    Assert.True(Math.Abs(roundTrip - y[at]) <= inverseTolerance, $"{where}: F(inverse(y)) {roundTrip} vs y {y[at]} (inverse {back[at]})");

                    var (dw, dh, dd) = (new double[bins], new double[bins], new double[bins - 1]);
                    double expectedDx = RationalQuadraticSpline.Backward((double)x[at], w, h, d, Bound, dy[at], dLogDet[r], dw, dh, dd);
                    var (gw, gh, gd) = (new float[bins], new float[bins], new float[bins - 1]);
                    float floatDx = RationalQuadraticSpline.Backward(x[at], fw, fh, fd, Bound, dy[at], dLogDet[r], gw, gh, gd);
                    double cancellation = 1e-6 * 2 * Bound * (Math.Abs(expectedDx) + Math.Abs(dy[at]) + Math.Abs(dLogDet[r]));
                    AssertClose(expectedDx, dx[at], floatDx, 0, $"{where}: dx");
                    var expectedSlots = dw.Concat(dh).Concat(dd).ToArray();
                    var floatSlots = gw.Concat(gh).Concat(gd).ToArray();
                    for (int j = 0; j < slots.Length; j++)
                        AssertClose(expectedSlots[j], dParameters[r * width + slots[j]], floatSlots[j], cancellation, $"{where}: dParameters slot {slots[j]}");
                }
                Assert.True(Math.Abs(10 + sum - logDet[r]) <= 1e-5 * (1 + magnitude), $"K={bins} D={features} logDet[{r}] {logDet[r]} vs {10 + sum}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Outputs_may_overwrite_their_inputs(int bins)
    {
        const int features = 37;
        var (x, parameters) = Batch(new Random(5), features, bins);
        var y = new float[x.Length];
        var logDet = new float[Rows];
        RationalQuadraticSplineKernel.Forward(x, parameters, Rows, features, bins, Bound, y, logDet);
        var inPlace = (float[])x.Clone();
        var logDetInPlace = new float[Rows];
        RationalQuadraticSplineKernel.Forward(inPlace, parameters, Rows, features, bins, Bound, inPlace, logDetInPlace);
        Assert.Equal(y, inPlace);
        Assert.Equal(logDet, logDetInPlace);

        var back = new float[x.Length];
        RationalQuadraticSplineKernel.Inverse(y, parameters, Rows, features, bins, Bound, back);
        RationalQuadraticSplineKernel.Inverse(inPlace, parameters, Rows, features, bins, Bound, inPlace);
        Assert.Equal(back, inPlace);

        var dy = x.Select((_, i) => (float)Math.Cos(i)).ToArray();
        var dLogDet = new[] { 1f, 0.5f };
        var dx = new float[x.Length];
        var dParameters = new float[parameters.Length];
        RationalQuadraticSplineKernel.Backward(x, parameters, dy, dLogDet, Rows, features, bins, Bound, dx, dParameters);
        // dx over dy and the parameter gradient over the parameters themselves.
        var dyInPlace = (float[])dy.Clone();
        var parametersInPlace = (float[])parameters.Clone();
        RationalQuadraticSplineKernel.Backward(x, parametersInPlace, dyInPlace, dLogDet, Rows, features, bins, Bound, dyInPlace, parametersInPlace);
        Assert.Equal(dx, dyInPlace);
        Assert.Equal(dParameters, parametersInPlace);
    }

    [Fact]
    public void Too_short_destinations_and_sources_are_refused()
    {
        const int features = 5, bins = 8;
        var (x, parameters) = Batch(new Random(6), features, bins);
        var full = new float[x.Length];
        var shorter = new float[x.Length - 1];
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Forward(x, parameters, Rows, features, bins, Bound, shorter, new float[Rows]));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Forward(x, parameters, Rows, features, bins, Bound, full, new float[Rows - 1]));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Forward(x, parameters.AsSpan(1), Rows, features, bins, Bound, full, new float[Rows]));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Inverse(x, parameters, Rows, features, bins, Bound, shorter));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Backward(x, parameters, x, new float[Rows], Rows, features, bins, Bound, shorter, new float[parameters.Length]));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Backward(x, parameters, x, new float[Rows], Rows, features, bins, Bound, full, new float[parameters.Length - 1]));
        Assert.Throws<ArgumentException>(() => RationalQuadraticSplineKernel.Backward(x, parameters, x.AsSpan(1), new float[Rows], Rows, features, bins, Bound, full, new float[parameters.Length]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RationalQuadraticSplineKernel.Forward(x, parameters, Rows, features, 0, Bound, full, new float[Rows]));
    }

    /// <summary>x over [-1.3B, 1.3B] with ±B, 0 and a NaN-free mix of tails; parameters of magnitude up to 3.</summary>
    private static (float[] X, float[] Parameters) Batch(Random random, int features, int bins)
    {
        var x = new float[Rows * features];
        for (int i = 0; i < x.Length; i++)
            x[i] = (i % 11) switch { 0 => Bound, 1 => -Bound, 2 => 0f, _ => 1.3f * Bound * (2 * random.NextSingle() - 1) };
        var parameters = new float[Rows * features * (3 * bins - 1)];
        for (int i = 0; i < parameters.Length; i++)
            parameters[i] = 3f * (2 * random.NextSingle() - 1);
        return (x, parameters);
    }

    /// <summary>Feature i's parameters by the documented layout [widths D·K | heights D·K | derivatives D·(K-1)] and their slots in the row.</summary>
    private static (double[] W, double[] H, double[] D, int[] Slots) Element(float[] parameters, int rowStart, int features, int bins, int feature)
    {
        var slots = Enumerable.Range(feature * bins, bins)
            .Concat(Enumerable.Range((features + feature) * bins, bins))
            .Concat(Enumerable.Range(2 * features * bins + feature * (bins - 1), bins - 1)).ToArray();
        double[] Take(int skip, int count) => slots.Skip(skip).Take(count).Select(j => (double)parameters[rowStart + j]).ToArray();
        return (Take(0, bins), Take(bins, bins), Take(2 * bins, bins - 1), slots);
    }

    private static void AssertClose(double expected, float actual, float floatReference, double cancellation, string what)
    {
        double tolerance = Math.Max(Math.Max(1e-4 * (1 + Math.Abs(expected)), 4 * Math.Abs(floatReference - expected)), cancellation);
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: float {actual}, double reference {expected}, float reference {floatReference}");
    }
}
