namespace FlowService.Training.Tests.Fitting;

/// <summary>
/// A D-dimensional normal N(μ, Σ) with a dense covariance drawn once from a seed: Σ = S (A Aᵀ / D +
/// 0.2 I) S with A standard normal and S = diag(exp(U(-1, 1))), so every pair of features is
/// correlated and the scales differ (standardization alone cannot whiten it). Rows are μ + L ε with
/// Σ = L Lᵀ (Cholesky, double); the log density and the entropy are exact.
/// </summary>
public sealed class DenseGaussian
{
    private readonly double[] _cholesky;
    private readonly double _logNormalizer;

    public DenseGaussian(int dimension, ulong seed)
    {
        Dimension = dimension;
        var random = new PortableRandom(seed);
        int d = dimension;
        Mean = Enumerable.Range(0, d).Select(_ => 2 * random.NextNormal()).ToArray();
        var a = Enumerable.Range(0, d * d).Select(_ => random.NextNormal()).ToArray();
        var scale = Enumerable.Range(0, d).Select(_ => Math.Exp(2 * random.NextDouble() - 1)).ToArray();
        Covariance = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double dot = 0;
                for (int k = 0; k < d; k++)
                    dot += a[i * d + k] * a[j * d + k];
                Covariance[i * d + j] = scale[i] * scale[j] * (dot / d + (i == j ? 0.2 : 0));
            }
        _cholesky = Cholesky(Covariance, d);
        double logDiagonal = 0;
        for (int i = 0; i < d; i++)
            logDiagonal += Math.Log(_cholesky[i * d + i]);
        // H = ½ log((2πe)^D det Σ), with ½ log det Σ = Σ log L_ii.
        Entropy = 0.5 * d * (1 + Math.Log(2 * Math.PI)) + logDiagonal;
        _logNormalizer = -0.5 * d * Math.Log(2 * Math.PI) - logDiagonal;
    }

    public int Dimension { get; }

    public double[] Mean { get; }

    /// <summary>Σ, row-major D x D.</summary>
    public double[] Covariance { get; }

    /// <summary>The differential entropy in nats: the expected NLL of the true density.</summary>
    public double Entropy { get; }

    /// <summary>
    /// The total correlation ½(Σ log Σ_ii − log det Σ): how many nats a model that standardizes the
    /// columns but ignores their correlations loses against the true density.
    /// </summary>
    public double TotalCorrelation()
    {
        double logVariances = 0;
        for (int i = 0; i < Dimension; i++)
            logVariances += Math.Log(Covariance[i * Dimension + i]);
        return 0.5 * logVariances - (Entropy - 0.5 * Dimension * (1 + Math.Log(2 * Math.PI)));
    }

    /// <summary><paramref name="rows"/> draws, row-major, rounded to float32.</summary>
    public float[] Sample(int rows, ulong seed)
    {
        var random = new PortableRandom(seed);
        int d = Dimension;
        var values = new float[rows * d];
        var e = new double[d];
        for (int r = 0; r < rows; r++)
        {
            for (int k = 0; k < d; k++)
                e[k] = random.NextNormal();
            for (int i = 0; i < d; i++)
            {
                double x = Mean[i];
                for (int k = 0; k <= i; k++)
                    x += _cholesky[i * d + k] * e[k];
                values[r * d + i] = (float)x;
            }
        }
        return values;
    }

    /// <summary>log N(x; μ, Σ) of one row, in double, by forward substitution with L.</summary>
    public double LogDensity(ReadOnlySpan<float> x)
    {
        int d = Dimension;
        Span<double> y = stackalloc double[d];
        double squares = 0;
        for (int i = 0; i < d; i++)
        {
            double v = x[i] - Mean[i];
            for (int k = 0; k < i; k++)
                v -= _cholesky[i * d + k] * y[k];
            y[i] = v / _cholesky[i * d + i];
            squares += y[i] * y[i];
        }
        return _logNormalizer - 0.5 * squares;
    }

    private static double[] Cholesky(double[] matrix, int d)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = matrix[i * d + j];
                for (int k = 0; k < j; k++)
                    sum -= l[i * d + k] * l[j * d + k];
                if (i == j)
                {
                    if (!(sum > 0))
                        throw new InvalidOperationException("The covariance is not positive definite.");
                    l[i * d + i] = Math.Sqrt(sum);
                }
                else
                    l[i * d + j] = sum / l[j * d + j];
            }
        return l;
    }
}
