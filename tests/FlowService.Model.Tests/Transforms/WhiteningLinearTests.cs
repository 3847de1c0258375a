using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Transforms;

/// <summary>
/// The data-dependent start of <see cref="WhiteningLinear"/> and of the "gaussian" flow: before any
/// training step the flow is the maximum-likelihood full-covariance Gaussian of its first rows (with the whitening's small ridge).
/// </summary>
public sealed class WhiteningLinearTests
{
    [Fact]
    public void A_gaussian_flow_initialised_from_data_is_the_maximum_likelihood_gaussian()
    {
        const int d = 4, rows = 2000;
        var random = new Random(5);
        // Correlated, shifted, scaled rows: x = A·ε + b.
        double[,] a = { { 2, 0, 0, 0 }, { 1, 0.5, 0, 0 }, { -1, 0.3, 3, 0 }, { 0.2, 0.1, 0.4, 0.05 } };
        double[] b = [10, -3, 0.5, 100];
        var x = new float[rows * d];
        for (int r = 0; r < rows; r++)
        {
            var e = Enumerable.Range(0, d).Select(_ => random.NextDouble() * 2 - 1 + random.NextDouble() - 0.5).ToArray();
            for (int i = 0; i < d; i++)
                x[r * d + i] = (float)(b[i] + Enumerable.Range(0, d).Sum(k => a[i, k] * e[k]));
        }
        var normalization = Standardization.Fit(x, d);
        var flow = NormalizingFlow.Create("""{"type":"gaussian"}""", d, 0, seed: 1, normalization);
        flow.InitializeFromData(x, rows, []);

        var logProb = new float[rows];
        flow.LogProb(x, rows, [], logProb);
        var expected = GaussianLogDensity(x, rows, d);
        for (int r = 0; r < rows; r++)
            Assert.True(Math.Abs(logProb[r] - expected[r]) <= 2e-3 * Math.Max(1, Math.Abs(expected[r])), $"row {r}: flow {logProb[r]}, Gaussian MLE {expected[r]}");

        // The latent codes are white: identity covariance up to the ridge, which shrinks the variance of a nearly
        // collinear column's residual (the last one here, R² ≈ 0.99) by up to ~2%.
        var z = new float[rows * d];
        flow.Encode(x, rows, [], z, new float[rows]);
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double c = Enumerable.Range(0, rows).Sum(r => (double)z[r * d + i] * z[r * d + j]) / rows;
                Assert.True(Math.Abs(c - (i == j ? 1 : 0)) < (i == j ? 0.025 : 2e-3), $"cov(z)[{i},{j}] = {c}");
            }
    }

    /// <summary>log N(x; mean, Σ) with the rows' own mean and (population) covariance plus the whitening's ridge, in double.</summary>
    private static double[] GaussianLogDensity(float[] x, int rows, int d)
    {
        var mean = new double[d];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                mean[j] += x[r * d + j] / (double)rows;
        var covariance = new double[d * d];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    covariance[i * d + j] += (x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j]) / rows;
        // The same relative ridge as the flow's whitening (on the standardized scale, so relative to each variance).
        for (int i = 0; i < d; i++)
            covariance[i * d + i] *= 1 + WhiteningLinear.Ridge;
        var l = FullCovarianceGaussian.LowerCholesky(covariance, d);
        double logDet = Enumerable.Range(0, d).Sum(i => Math.Log(l[i * d + i]));
        var result = new double[rows];
        var y = new double[d];
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int i = 0; i < d; i++)
            {
                double sum = x[r * d + i] - mean[i];
                for (int k = 0; k < i; k++)
                    sum -= l[i * d + k] * y[k];
                y[i] = sum / l[i * d + i];
                squares += y[i] * y[i];
            }
            result[r] = -0.5 * squares - logDet - 0.5 * d * Math.Log(2 * Math.PI);
        }
        return result;
    }
}
