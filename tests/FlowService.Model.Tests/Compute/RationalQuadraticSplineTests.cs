using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute;

/// <summary>The element-level spline math in double: derivatives by finite differences, inverse, monotonicity, tails, knots.</summary>
public sealed class RationalQuadraticSplineTests
{
    private const double Bound = 3.0;

    public static TheoryData<int, int> BinsAndSeeds => new() { { 1, 1 }, { 2, 2 }, { 5, 3 }, { 8, 4 }, { 8, 5 }, { 16, 6 } };

    [Theory]
    [MemberData(nameof(BinsAndSeeds))]
    public void Log_derivative_equals_the_finite_difference_slope(int bins, int seed)
    {
        var (w, h, d) = RandomParameters(bins, seed, scale: 2.0);
        var random = new Random(seed + 100);
        for (int n = 0; n < 50; n++)
        {
            double x = (2 * random.NextDouble() - 1) * Bound * 0.999;
            RationalQuadraticSpline.Forward(x, w, h, d, Bound, out double logAbsDet);
            const double eps = 1e-6;
            double slope = (RationalQuadraticSpline.Forward(x + eps, w, h, d, Bound, out _) - RationalQuadraticSpline.Forward(x - eps, w, h, d, Bound, out _)) / (2 * eps);
            Assert.True(slope > 0, $"slope {slope} at x = {x}");
            Assert.Equal(Math.Log(slope), logAbsDet, 6);
        }
    }

    [Theory]
    [MemberData(nameof(BinsAndSeeds))]
    public void Backward_matches_central_finite_differences_for_x_and_every_parameter(int bins, int seed)
    {
        var (w, h, d) = RandomParameters(bins, seed, scale: 1.5);
        var random = new Random(seed + 200);
        double gy = 0.7, gl = -1.3;  // L = gy·y + gl·log|dy/dx|
        double Loss(double xv, double[] wv, double[] hv, double[] dv)
        {
            double y = RationalQuadraticSpline.Forward(xv, wv, hv, dv, Bound, out double l);
            return gy * y + gl * l;
        }

        for (int n = 0; n < 10; n++)
        {
            double x = (2 * random.NextDouble() - 1) * Bound * 0.99;
            var dw = new double[bins];
            var dh = new double[bins];
            var dd = new double[bins - 1];
            double dx = RationalQuadraticSpline.Backward(x, w, h, d, Bound, gy, gl, dw, dh, dd);

            const double eps = 1e-6;
            AssertClose(Central(e => Loss(x + e, w, h, d), eps), dx, $"dx at {x}");
            foreach (var (values, gradient, name) in new[] { (w, dw, "widths"), (h, dh, "heights"), (d, dd, "derivatives") })
            {
                for (int j = 0; j < values.Length; j++)
                {
                    double original = values[j];
                    double fd = Central(e => { values[j] = original + e; double v = Loss(x, w, h, d); values[j] = original; return v; }, eps);
                    AssertClose(fd, gradient[j], $"{name}[{j}] at x = {x}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(BinsAndSeeds))]
    public void Inverse_undoes_forward_inside_and_in_the_tails(int bins, int seed)
    {
        var (w, h, d) = RandomParameters(bins, seed, scale: 3.0);
        for (double x = -2 * Bound; x <= 2 * Bound; x += 0.01)
        {
            double y = RationalQuadraticSpline.Forward(x, w, h, d, Bound, out _);
            Assert.Equal(x, RationalQuadraticSpline.Inverse(y, w, h, d, Bound), 10);
        }
    }

    [Theory]
    [MemberData(nameof(BinsAndSeeds))]
    public void Knots_map_to_knots_in_both_directions(int bins, int seed)
    {
        var (w, h, d) = RandomParameters(bins, seed, scale: 3.0);
        double[] knotsX = ExpectedKnots(w, RationalQuadraticSpline.MinBinWidth);
        double[] knotsY = ExpectedKnots(h, RationalQuadraticSpline.MinBinHeight);
        for (int j = 0; j <= bins; j++)
        {
            Assert.Equal(knotsY[j], RationalQuadraticSpline.Forward(knotsX[j], w, h, d, Bound, out _), 12);
            Assert.Equal(knotsX[j], RationalQuadraticSpline.Inverse(knotsY[j], w, h, d, Bound), 10);
            // Just either side of a knot the inverse stays continuous.
            Assert.Equal(knotsX[j] - 1e-9, RationalQuadraticSpline.Inverse(RationalQuadraticSpline.Forward(knotsX[j] - 1e-9, w, h, d, Bound, out _), w, h, d, Bound), 10);
        }
    }

    [Theory]
    [MemberData(nameof(BinsAndSeeds))]
    public void Is_strictly_increasing_with_identity_tails_and_unit_slope_at_the_bounds(int bins, int seed)
    {
        var (w, h, d) = RandomParameters(bins, seed, scale: 4.0);
        double previous = double.NegativeInfinity;
        for (double x = -2 * Bound; x <= 2 * Bound; x += 1e-3)
        {
            double y = RationalQuadraticSpline.Forward(x, w, h, d, Bound, out double logAbsDet);
            Assert.True(y > previous, $"not increasing at x = {x}");
            previous = y;
            if (Math.Abs(x) > Bound)
            {
                Assert.Equal(x, y);
                Assert.Equal(0.0, logAbsDet);
            }
        }
        // The boundary derivatives are fixed to 1, so the slope is continuous into the tails.
        RationalQuadraticSpline.Forward(Bound, w, h, d, Bound, out double atRight);
        RationalQuadraticSpline.Forward(-Bound, w, h, d, Bound, out double atLeft);
        Assert.Equal(0.0, atRight, 9);
        Assert.Equal(0.0, atLeft, 9);
        Assert.Equal(Bound, RationalQuadraticSpline.Forward(Bound, w, h, d, Bound, out _), 12);
        Assert.Equal(-Bound, RationalQuadraticSpline.Forward(-Bound, w, h, d, Bound, out _), 12);
    }

    [Fact]
    public void All_zero_parameters_are_the_identity()
    {
        const int bins = 8;
        var zeros = new double[bins];
        var zeroDerivatives = new double[bins - 1];
        for (double x = -2 * Bound; x <= 2 * Bound; x += 0.037)
        {
            double y = RationalQuadraticSpline.Forward(x, zeros, zeros, zeroDerivatives, Bound, out double logAbsDet);
            Assert.Equal(x, y, 12);
            Assert.Equal(0.0, logAbsDet, 12);
        }
    }

    [Fact]
    public void Extreme_parameters_keep_bins_and_slopes_at_their_floors()
    {
        double[] w = { 60, -60, -60, -60 };   // three bins collapse to the minimum width
        double[] h = { -60, -60, -60, 60 };
        double[] d = { -60, 60, -60 };
        var random = new Random(9);
        for (int n = 0; n < 200; n++)
        {
            double x = (2 * random.NextDouble() - 1) * Bound;
            double y = RationalQuadraticSpline.Forward(x, w, h, d, Bound, out double logAbsDet);
            Assert.True(double.IsFinite(y) && double.IsFinite(logAbsDet));
            Assert.Equal(x, RationalQuadraticSpline.Inverse(y, w, h, d, Bound), 7);
        }
    }

    internal static (double[] Widths, double[] Heights, double[] Derivatives) RandomParameters(int bins, int seed, double scale)
    {
        var random = new Random(seed);
        double Next() => scale * (2 * random.NextDouble() - 1);
        return (Enumerable.Range(0, bins).Select(_ => Next()).ToArray(),
                Enumerable.Range(0, bins).Select(_ => Next()).ToArray(),
                Enumerable.Range(0, bins - 1).Select(_ => Next()).ToArray());
    }

    /// <summary>Knots written out independently of the implementation: -B + 2B · cumsum(m + (1 - mK) softmax(u)).</summary>
    private static double[] ExpectedKnots(double[] unnormalised, double minimum)
    {
        double max = unnormalised.Max();
        double[] e = unnormalised.Select(u => Math.Exp(u - max)).ToArray();
        double sum = e.Sum();
        var knots = new double[unnormalised.Length + 1];
        knots[0] = -Bound;
        double cumulative = 0;
        for (int i = 0; i < unnormalised.Length; i++)
        {
            cumulative += minimum + (1 - minimum * unnormalised.Length) * e[i] / sum;
            knots[i + 1] = -Bound + 2 * Bound * cumulative;
        }
        knots[^1] = Bound;
        return knots;
    }

    private static double Central(Func<double, double> f, double eps) => (f(eps) - f(-eps)) / (2 * eps);

    private static void AssertClose(double expected, double actual, string what)
    {
        double tolerance = 1e-6 + 1e-5 * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: finite difference {expected}, analytic {actual}");
    }
}
