using FlowService.Model.Parameters;

namespace FlowService.Model.Distributions;

/// <summary>
/// N(x; μ, Σ) with Σ = L Lᵀ, in double: the maximum-likelihood fit of a data set (the baseline every
/// flow must beat, and the defensive component of a served density). log N = -½|L⁻¹(x - μ)|² -
/// Σ log L_ii - (D/2) log 2π; sampling x = μ + T · L ε.
/// </summary>
public sealed class FullCovarianceGaussian : IDefensiveDensity
{
    /// <summary>Added to each variance, relative to it (plus 1e-12 absolute): keeps collinear or constant columns finite.</summary>
    public const double RelativeRidge = 1e-6;

    private readonly double[] _mean;
    private readonly double[] _cholesky;
    private readonly double _logNormalizer;

    public FullCovarianceGaussian(IReadOnlyList<double> mean, IReadOnlyList<double> cholesky)
    {
        int d = mean.Count;
        if (d == 0 || cholesky.Count != d * d)
            throw new ArgumentException($"A {d}-D Gaussian needs a {d}x{d} Cholesky factor, not {cholesky.Count} values.");
        for (int i = 0; i < d; i++)
            if (!(cholesky[i * d + i] > 0) || !double.IsFinite(cholesky[i * d + i]) || !double.IsFinite(mean[i]))
                throw new ArgumentException($"Dimension {i}: the mean must be finite and the Cholesky diagonal positive.");
        _mean = mean.ToArray();
        _cholesky = cholesky.ToArray();
        double logDet = 0;
        for (int i = 0; i < d; i++)
            logDet += Math.Log(_cholesky[i * d + i]);
        _logNormalizer = -logDet - 0.5 * d * Math.Log(2 * Math.PI);
    }

    public int Features => _mean.Length;

    public IReadOnlyList<double> Mean => _mean;

    /// <summary>L, row-major, lower triangular.</summary>
    public IReadOnlyList<double> Cholesky => _cholesky;

    /// <summary>
    /// The maximum-likelihood fit (population covariance, plus <paramref name="relativeRidge"/> of each variance on the
    /// diagonal, <see cref="RelativeRidge"/> by default) of row-major <paramref name="data"/>.
    /// </summary>
    public static FullCovarianceGaussian Fit(ReadOnlySpan<float> data, int features, double relativeRidge = RelativeRidge)
    {
        if (features < 1 || data.Length == 0 || data.Length % features != 0)
            throw new ArgumentException($"Data of {data.Length} floats is not a positive number of rows of {features} features.");
        int rows = data.Length / features, d = features;
        var mean = new double[d];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                mean[j] += data[r * d + j];
        for (int j = 0; j < d; j++)
            mean[j] /= rows;
        var covariance = new double[d * d];
        var centered = new double[d];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < d; j++)
                centered[j] = data[r * d + j] - mean[j];
            for (int i = 0; i < d; i++)
                for (int j = 0; j <= i; j++)
                    covariance[i * d + j] += centered[i] * centered[j];
        }
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j <= i; j++)
                covariance[i * d + j] /= rows;
            covariance[i * d + i] += relativeRidge * covariance[i * d + i] + 1e-12;
        }
        return new FullCovarianceGaussian(mean, LowerCholesky(covariance, d));
    }

    /// <summary>log N(x; μ, Σ) per row of row-major <paramref name="x"/>.</summary>
    public void LogDensity(ReadOnlySpan<float> x, int rows, Span<double> logProb)
    {
        int d = Features;
        var y = new double[d];
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int i = 0; i < d; i++)
            {
                double sum = x[r * d + i] - _mean[i];
                for (int k = 0; k < i; k++)
                    sum -= _cholesky[i * d + k] * y[k];
                y[i] = sum / _cholesky[i * d + i];
                squares += y[i] * y[i];
            }
            logProb[r] = -0.5 * squares + _logNormalizer;
        }
    }

    /// <summary>x = μ + T · L ε for one row, ε drawn from <paramref name="random"/>.</summary>
    public void SampleRow(Random random, float temperature, Span<float> x)
    {
        int d = Features;
        var epsilon = new double[d];
        for (int i = 0; i < d; i++)
            epsilon[i] = ParameterInitializer.StandardNormal(random);
        for (int i = 0; i < d; i++)
        {
            double sum = 0;
            for (int k = 0; k <= i; k++)
                sum += _cholesky[i * d + k] * epsilon[k];
            x[i] = (float)(_mean[i] + temperature * sum);
        }
    }

    /// <summary>
    /// The lower Cholesky factor (row-major) of the lower triangle of a symmetric matrix; a pivot that rounding leaves at
    /// or below zero (a column that is an exact combination of others) is floored at the ridge's size instead of failing.
    /// </summary>
    public static double[] LowerCholesky(double[] symmetric, int d)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = symmetric[i * d + j];
                for (int k = 0; k < j; k++)
                    sum -= l[i * d + k] * l[j * d + k];
                if (i == j)
                    l[i * d + i] = Math.Sqrt(Math.Max(sum, 1e-12 + RelativeRidge * symmetric[i * d + i]));
                else
                    l[i * d + j] = sum / l[j * d + j];
            }
        return l;
    }
}
