using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute;

/// <summary>The CPU backend's spline ops (float) against the double scalar reference, with the kind-major parameter layout.</summary>
public sealed class SplineBackendTests
{
    private const int Rows = 7, Features = 3, Bins = 5;
    private const float Bound = 2.5f;
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    [Fact]
    public void Forward_matches_the_double_reference_and_adds_to_logDet()
    {
        var (x, parameters) = RandomBatch(seed: 1);
        var y = Backend.Allocate(Rows, Features);
        var logDet = Backend.Allocate(Rows, 1);
        Backend.Fill(logDet, 10f);

        Backend.SplineForward(x, parameters, Bins, Bound, y, logDet);

        for (int r = 0; r < Rows; r++)
        {
            double sum = 0, magnitude = 0;
            for (int i = 0; i < Features; i++)
            {
                var (w, h, d) = ElementParameters(parameters, r, i);
                double expected = RationalQuadraticSpline.Forward((double)x.Row(r)[i], w, h, d, Bound, out double l);
                sum += l;
                magnitude += Math.Abs(l);
                Assert.True(Math.Abs(expected - y.Row(r)[i]) <= 2e-6 * (1 + Math.Abs(expected)), $"y[{r},{i}] {y.Row(r)[i]} vs {expected}");
            }
            Assert.True(Math.Abs(10 + sum - logDet.Row(r)[0]) <= 1e-5 * (1 + magnitude), $"logDet[{r}] {logDet.Row(r)[0]} vs {10 + sum}");
        }
    }

    [Fact]
    public void Inverse_round_trips_in_float_and_may_run_in_place()
    {
        var (x, parameters) = RandomBatch(seed: 2);
        var original = x.Span().ToArray();
        var y = Backend.Allocate(Rows, Features);
        Backend.SplineForward(x, parameters, Bins, Bound, y, Backend.Allocate(Rows, 1));
        var forward = y.Span().ToArray();

        Backend.SplineInverse(y, parameters, Bins, Bound, y);

        for (int r = 0; r < Rows; r++)
        {
            for (int i = 0; i < Features; i++)
            {
                // Storing y in float moves it by up to half an ulp, which the inverse divides by the
                // slope: parameters this large make slopes near the 1e-3 floor, so the bound is relative.
                var (w, h, d) = ElementParameters(parameters, r, i);
                int e = r * Features + i;
                RationalQuadraticSpline.Forward((double)original[e], w, h, d, Bound, out double logSlope);
                double tolerance = 2e-6 + 1.2e-7 * (1 + Math.Abs(forward[e])) / Math.Exp(logSlope);
                Assert.True(Math.Abs(original[e] - y.Span()[e]) <= tolerance, $"element {e}: {original[e]} vs {y.Span()[e]} (tolerance {tolerance})");
            }
        }
    }

    [Fact]
    public void Backward_matches_the_double_reference_for_x_and_every_parameter_slot()
    {
        var (x, parameters) = RandomBatch(seed: 3);
        var random = new Random(4);
        var dy = Backend.Allocate(Rows, Features);
        var dLogDet = Backend.Allocate(Rows, 1);
        Fill(dy, random, 1f);
        Fill(dLogDet, random, 1f);
        var dx = Backend.Allocate(Rows, Features);
        var dParameters = Backend.Allocate(parameters.Rows, parameters.Cols);
        Backend.Fill(dParameters, float.NaN);   // overwritten, not accumulated

        Backend.SplineBackward(x, parameters, dy, dLogDet, Bins, Bound, dx, dParameters);

        for (int r = 0; r < Rows; r++)
        {
            for (int i = 0; i < Features; i++)
            {
                var (w, h, d) = ElementParameters(parameters, r, i);
                var dw = new double[Bins];
                var dh = new double[Bins];
                var dd = new double[Bins - 1];
                double expectedDx = RationalQuadraticSpline.Backward((double)x.Row(r)[i], w, h, d, Bound, dy.Row(r)[i], dLogDet.Row(r)[0], dw, dh, dd);
                AssertClose(expectedDx, dx.Row(r)[i], $"dx[{r},{i}]");
                var gradientRow = dParameters.Row(r);
                for (int b = 0; b < Bins; b++)
                {
                    AssertClose(dw[b], gradientRow[i * Bins + b], $"dWidths[{r},{i},{b}]");
                    AssertClose(dh[b], gradientRow[(Features + i) * Bins + b], $"dHeights[{r},{i},{b}]");
                }
                for (int b = 0; b < Bins - 1; b++)
                    AssertClose(dd[b], gradientRow[2 * Features * Bins + i * (Bins - 1) + b], $"dDerivatives[{r},{i},{b}]");
            }
        }
    }

    [Fact]
    public void One_shared_parameter_row_gives_the_bits_of_that_row_repeated_for_every_row()
    {
        Assert.True(Backend.SharesSplineParameters);
        var (x, many) = RandomBatch(seed: 5);
        var shared = Backend.Allocate(1, many.Cols);
        Backend.Upload(many.Row(2), shared);
        var repeated = Backend.Allocate(Rows, many.Cols);
        for (int r = 0; r < Rows; r++)
            shared.Span().CopyTo(repeated.Row(r));
        var random = new Random(6);
        var dy = Backend.Allocate(Rows, Features);
        var dLogDet = Backend.Allocate(Rows, 1);
        Fill(dy, random, 1f);
        Fill(dLogDet, random, 1f);

        // Every output of every op, once with the shared row and once with the repeated rows.
        float[][] Run(Tensor parameters)
        {
            var y = Backend.Allocate(Rows, Features);
            var logDet = Backend.Allocate(Rows, 1);
            Backend.SplineForward(x, parameters, Bins, Bound, y, logDet);
            var inverse = Backend.Allocate(Rows, Features);
            Backend.SplineInverse(y, parameters, Bins, Bound, inverse);
            var dx = Backend.Allocate(Rows, Features);
            var dParameters = Backend.Allocate(Rows, many.Cols);
            Backend.SplineBackward(x, parameters, dy, dLogDet, Bins, Bound, dx, dParameters);
            return [y.Span().ToArray(), logDet.Span().ToArray(), inverse.Span().ToArray(), dx.Span().ToArray(), dParameters.Span().ToArray()];
        }

        var fromShared = Run(shared);
        var fromRepeated = Run(repeated);
        for (int k = 0; k < fromShared.Length; k++)
            Assert.Equal(fromRepeated[k], fromShared[k]);
        // The gradient stays a row per input row: a shared row's gradient tensor of one row is refused.
        Assert.Throws<ArgumentException>(() => Backend.SplineBackward(x, shared, dy, dLogDet, Bins, Bound, Backend.Allocate(Rows, Features), Backend.Allocate(1, many.Cols)));
    }

    [Fact]
    public void Rejects_a_parameter_tensor_of_the_wrong_width_and_bad_bins_or_bounds()
    {
        var x = Backend.Allocate(Rows, Features);
        var y = Backend.Allocate(Rows, Features);
        var logDet = Backend.Allocate(Rows, 1);
        var parameters = Backend.Allocate(Rows, Features * (3 * Bins - 1));
        Assert.Throws<ArgumentException>(() => Backend.SplineForward(x, Backend.Allocate(Rows, Features * 3 * Bins), Bins, Bound, y, logDet));
        Assert.Throws<ArgumentException>(() => Backend.SplineForward(x, Backend.Allocate(2, Features * (3 * Bins - 1)), Bins, Bound, y, logDet));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backend.SplineForward(x, parameters, 0, Bound, y, logDet));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backend.SplineInverse(y, parameters, Bins, 0f, x));
        Assert.Throws<ArgumentException>(() => Backend.SplineForward(x, parameters, Bins, Bound, y, Backend.Allocate(Rows, 2)));
    }

    /// <summary>x spread over [-1.4B, 1.4B] (some rows in the tails), parameters of magnitude up to 3.</summary>
    private static (Tensor X, Tensor Parameters) RandomBatch(int seed)
    {
        var random = new Random(seed);
        var x = Backend.Allocate(Rows, Features);
        var parameters = Backend.Allocate(Rows, Features * (3 * Bins - 1));
        Fill(x, random, 1.4f * Bound);
        Fill(parameters, random, 3f);
        return (x, parameters);
    }

    private static void Fill(Tensor t, Random random, float scale)
    {
        var span = t.Span();
        for (int i = 0; i < span.Length; i++)
            span[i] = scale * (2 * random.NextSingle() - 1);
    }

    /// <summary>Feature i's parameters read by the documented layout: [widths D·K | heights D·K | derivatives D·(K-1)].</summary>
    private static (double[] W, double[] H, double[] D) ElementParameters(Tensor parameters, int row, int feature)
    {
        var p = parameters.Row(row).ToArray();
        double[] Take(int start, int count) => Enumerable.Range(start, count).Select(j => (double)p[j]).ToArray();
        return (Take(feature * Bins, Bins), Take((Features + feature) * Bins, Bins), Take(2 * Features * Bins + feature * (Bins - 1), Bins - 1));
    }

    private static void AssertClose(double expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"{what}: float {actual}, double reference {expected}");
}
