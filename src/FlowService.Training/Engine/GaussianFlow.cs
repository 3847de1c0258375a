namespace FlowService.Training.Engine;

/// <summary>
/// The affine flow with a full covariance: standardize each column (fixed, from the training data),
/// then z = A (u - m) with A lower-triangular, positive diagonal exp(logDiag). It is a normal density
/// with mean μ + σ·m and covariance diag(σ) A⁻¹A⁻ᵀ diag(σ), so log p is exact and has a closed form:
/// log p(x) = log N(z; 0, I) + Σ logDiag - Σ log σ. With m = 0, A = I it is the standardized normal.
/// </summary>
/// <remarks>Parameters are one vector [m (D) | L (D×D, strictly lower part used) | logDiag (D)].</remarks>
public sealed class GaussianFlow : IDensityFlow
{
    static readonly double LogTwoPi = Math.Log(2 * Math.PI);

    public GaussianFlow(double[] columnMean, double[] columnStd, double[] parameters)
    {
        int d = columnMean.Length;
        if (columnStd.Length != d || parameters.Length != ParameterCount(d))
            throw new ArgumentException($"A {d}-feature Gaussian flow needs {d} stds and {ParameterCount(d)} parameters.");
        ColumnMean = columnMean;
        ColumnStd = columnStd;
        Parameters = parameters;
    }

    public static int ParameterCount(int features) => features * features + 2 * features;

    public double[] ColumnMean { get; }

    public double[] ColumnStd { get; }

    public double[] Parameters { get; }

    public int Features => ColumnMean.Length;

    public int ContextFeatures => 0;

    double Mean(int i) => Parameters[i];

    double A(int i, int j) => i == j ? Math.Exp(Parameters[Features + Features * Features + i]) : i > j ? Parameters[Features + i * Features + j] : 0;

    /// <summary>Sum of log|det| of standardization and A: the log-Jacobian of x → z, the same for every row.</summary>
    public double LogDet
    {
        get
        {
            int d = Features;
            double sum = 0;
            for (int i = 0; i < d; i++)
                sum += Parameters[d + d * d + i] - Math.Log(ColumnStd[i]);
            return sum;
        }
    }

    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        int d = Features;
        Span<double> z = stackalloc double[d];
        double logDet = LogDet;
        for (int r = 0; r < rows; r++)
        {
            ToLatent(x.Slice(r * d, d), z);
            double sq = 0;
            for (int i = 0; i < d; i++)
                sq += z[i] * z[i];
            logProb[r] = (float)(-0.5 * sq - 0.5 * d * LogTwoPi + logDet);
        }
    }

    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
    {
        int d = Features;
        Span<double> row = stackalloc double[d];
        float det = (float)LogDet;
        for (int r = 0; r < rows; r++)
        {
            ToLatent(x.Slice(r * d, d), row);
            for (int i = 0; i < d; i++)
                z[r * d + i] = (float)row[i];
            logDet[r] = det;
        }
    }

    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x)
    {
        int d = Features;
        Span<double> e = stackalloc double[d];
        for (int r = 0; r < rows; r++)
        {
            // Forward substitution solves A e = z; then u = m + e and x = μ + σ u.
            for (int i = 0; i < d; i++)
            {
                double s = z[r * d + i];
                for (int j = 0; j < i; j++)
                    s -= A(i, j) * e[j];
                e[i] = s / A(i, i);
            }
            for (int i = 0; i < d; i++)
                x[r * d + i] = (float)(ColumnMean[i] + ColumnStd[i] * (Mean(i) + e[i]));
        }
    }

    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        var random = new Random(seed);
        var z = new float[n * Features];
        for (int i = 0; i < z.Length; i++)
        {
            // Box-Muller; 1 - NextDouble() is in (0, 1] so the log is finite.
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            z[i] = (float)(temperature * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        Decode(z, n, context, x);
    }

    void ToLatent(ReadOnlySpan<float> x, Span<double> z)
    {
        int d = Features;
        Span<double> e = stackalloc double[d];
        for (int i = 0; i < d; i++)
            e[i] = (x[i] - ColumnMean[i]) / ColumnStd[i] - Mean(i);
        for (int i = 0; i < d; i++)
        {
            double s = 0;
            for (int j = 0; j <= i; j++)
                s += A(i, j) * e[j];
            z[i] = s;
        }
    }

    /// <summary>
    /// Adds the gradient of the summed NLL of standardized rows <paramref name="u"/> into <paramref name="gradient"/>
    /// and returns the summed NLL (in standardized units; the constant Σ log σ is left out).
    /// </summary>
    public static double AccumulateGradient(double[] parameters, int d, ReadOnlySpan<float> u, int rows, double[] gradient)
    {
        double nll = 0;
        var e = new double[d];
        var z = new double[d];
        int lOffset = d, diagOffset = d + d * d;
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < d; i++)
                e[i] = u[r * d + i] - parameters[i];
            for (int i = 0; i < d; i++)
            {
                double s = Math.Exp(parameters[diagOffset + i]) * e[i];
                for (int j = 0; j < i; j++)
                    s += parameters[lOffset + i * d + j] * e[j];
                z[i] = s;
                nll += 0.5 * s * s - parameters[diagOffset + i];
            }
            nll += 0.5 * d * LogTwoPi;
            // dNLL/dz = z; z = A e: dA = z eᵀ (lower part), de = Aᵀ z, dm = -de.
            for (int i = 0; i < d; i++)
            {
                double a = Math.Exp(parameters[diagOffset + i]);
                gradient[diagOffset + i] += z[i] * e[i] * a - 1;
                gradient[i] -= a * z[i];
                for (int j = 0; j < i; j++)
                {
                    gradient[lOffset + i * d + j] += z[i] * e[j];
                    gradient[j] -= parameters[lOffset + i * d + j] * z[i];
                }
            }
        }
        return nll;
    }
}
