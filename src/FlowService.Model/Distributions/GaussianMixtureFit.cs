namespace FlowService.Model.Distributions;

/// <summary>
/// A Gaussian mixture fitted to rows by seeded k-means++, Lloyd iterations, then EM (Dempster et al. 1977), in
/// double precision: the starting point of <see cref="GaussianMixtureBase"/> on the latent codes of the first
/// training rows. Covariances carry <see cref="Regularization"/> on the diagonal (scikit-learn's reg_covar), so a
/// component on a few rows stays invertible, and may be shrunk toward the covariance of all rows:
/// Σ_k = (1 - λ) S_k + λ S (regularized discriminant analysis, Friedman 1989), which keeps a full covariance per
/// component estimable on a hundred rows in a dozen dimensions and is the same in any linear coordinates of the latent.
/// </summary>
internal sealed class GaussianMixtureFit
{
    /// <summary>Added to every covariance diagonal, in latent units (the latents are standardized or whitened, so about unit scale).</summary>
    public const double Regularization = 1e-4;

    /// <summary>Seeded k-means++ starts; the fit with the highest log-likelihood wins (scikit-learn's n_init), since EM's optimum depends on the start.</summary>
    public const int Restarts = 4;

    private const int LloydIterations = 20, EmIterations = 100;

    // Stop EM when the mean log-likelihood per row improves by less than this (scikit-learn's tol is 1e-3).
    private const double Tolerance = 1e-4;

    private GaussianMixtureFit(double[] weights, double[][] means, double[][] choleskyFactors, double meanLogLikelihood)
    {
        MeanLogLikelihood = meanLogLikelihood;
        Weights = weights;
        Means = means;
        CholeskyFactors = choleskyFactors;
    }

    /// <summary>The fitted mixture's mean log-likelihood per row of the rows it was fitted to.</summary>
    public double MeanLogLikelihood { get; }

    public double[] Weights { get; }

    public double[][] Means { get; }

    /// <summary>Per component the lower Cholesky factor C (D x D row-major, Σ = C Cᵀ); diagonal when fitted so.</summary>
    public double[][] CholeskyFactors { get; }

    /// <summary>
    /// The best of <see cref="Restarts"/> fits, each from k-means++ seeded by one draw of <see cref="Random"/>(seed). The
    /// k-means start runs on <paramref name="clustering"/> (<paramref name="clusteringFeatures"/> columns, the same rows)
    /// when given, else on <paramref name="data"/>: EM is the same in any linear coordinates, k-means is not. In whitened
    /// coordinates every direction has unit variance, so the few directions that separate clusters weigh no more than the
    /// many that carry noise and k-means cuts at random (measured on digits 0-4 in 64-D: two components' held-out log p
    /// -120.5 to -124.9 over k-means seeds when started whitened, -119.4 started on standardized columns, as scikit-learn does).
    /// </summary>
    public static GaussianMixtureFit Fit(ReadOnlySpan<float> data, int features, int components, bool diagonal, double shrinkage, int seed,
        ReadOnlySpan<float> clustering = default, int clusteringFeatures = 0)
    {
        int n = data.Length / features, d = features;
        if (n == 0)
            throw new ArgumentException("A mixture needs at least one row to start from.", nameof(data));
        var x = new double[n * d];
        for (int i = 0; i < x.Length; i++)
            x[i] = data[i];
        int dc = clustering.IsEmpty ? d : clusteringFeatures;
        if (!clustering.IsEmpty && (dc < 1 || clustering.Length != n * dc))
            throw new ArgumentException($"The clustering coordinates must be {n} rows of {dc} columns, not {clustering.Length} values.", nameof(clustering));
        var c = x;
        if (!clustering.IsEmpty)
        {
            c = new double[n * dc];
            for (int i = 0; i < c.Length; i++)
                c[i] = clustering[i];
        }
        var all = new double[n];
        Array.Fill(all, 1.0);
        var pooled = new Covariance(diagonal, shrinkage, Weighted(x, n, d, all, 0, 1, diagonal, out _));
        var seeds = new Random(seed);
        GaussianMixtureFit? best = null;
        for (int restart = 0; restart < Restarts; restart++)
        {
            var fit = FitOnce(x, c, n, d, dc, components, pooled, new Random(seeds.Next()));
            if (best is null || fit.MeanLogLikelihood > best.MeanLogLikelihood)
                best = fit;
        }
        return best!;
    }

    /// <summary>One fit: k-means++ and Lloyd on the clustering coordinates <paramref name="c"/> give hard responsibilities, from which EM runs on <paramref name="x"/>.</summary>
    private static GaussianMixtureFit FitOnce(double[] x, double[] c, int n, int d, int dc, int components, Covariance pooled, Random random)
    {
        var centers = KMeansPlusPlus(c, n, dc, components, random);
        var responsibilities = new double[n * components];
        Lloyd(c, n, dc, centers, responsibilities);
        var means = new double[components][];
        var weights = new double[components];
        var factors = new double[components][];
        MaximizationStep(x, n, d, responsibilities, pooled, weights, means, factors);
        double previous = double.NegativeInfinity;
        for (int iteration = 0; iteration < EmIterations; iteration++)
        {
            double meanLogLikelihood = ExpectationStep(x, n, d, weights, means, factors, responsibilities);
            MaximizationStep(x, n, d, responsibilities, pooled, weights, means, factors);
            if (meanLogLikelihood - previous < Tolerance)
                break;
            previous = meanLogLikelihood;
        }
        return new GaussianMixtureFit(weights, means, factors, ExpectationStep(x, n, d, weights, means, factors, responsibilities));
    }

    private static double[][] KMeansPlusPlus(double[] x, int n, int d, int k, Random random)
    {
        var centers = new double[k][];
        var nearest = new double[n];
        Array.Fill(nearest, double.PositiveInfinity);
        int first = random.Next(n);
        for (int c = 0; c < k; c++)
        {
            int chosen = first;
            if (c > 0)
            {
                double total = nearest.Sum();
                // Every row already is a center (fewer distinct rows than components): repeat one; EM separates what it can.
                chosen = total > 0 ? Draw(nearest, total * random.NextDouble()) : random.Next(n);
            }
            centers[c] = x.AsSpan(chosen * d, d).ToArray();
            for (int r = 0; r < n; r++)
                nearest[r] = Math.Min(nearest[r], SquaredDistance(x.AsSpan(r * d, d), centers[c]));
        }
        return centers;
    }

    private static int Draw(double[] masses, double target)
    {
        for (int r = 0; r < masses.Length; r++)
        {
            target -= masses[r];
            if (target < 0)
                return r;
        }
        return Array.FindLastIndex(masses, m => m > 0);
    }

    private static void Lloyd(double[] x, int n, int d, double[][] centers, double[] responsibilities)
    {
        int k = centers.Length;
        var assignment = new int[n];
        for (int iteration = 0; iteration < LloydIterations; iteration++)
        {
            bool changed = iteration == 0;
            for (int r = 0; r < n; r++)
            {
                int best = 0;
                double bestDistance = double.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    double distance = SquaredDistance(x.AsSpan(r * d, d), centers[c]);
                    if (distance < bestDistance)
                        (best, bestDistance) = (c, distance);
                }
                changed |= assignment[r] != best;
                assignment[r] = best;
            }
            if (!changed)
                break;
            for (int c = 0; c < k; c++)
            {
                var sum = new double[d];
                int count = 0;
                for (int r = 0; r < n; r++)
                {
                    if (assignment[r] != c)
                        continue;
                    count++;
                    for (int j = 0; j < d; j++)
                        sum[j] += x[r * d + j];
                }
                if (count > 0)
                    for (int j = 0; j < d; j++)
                        centers[c][j] = sum[j] / count;
            }
        }
        Array.Clear(responsibilities);
        for (int r = 0; r < n; r++)
            responsibilities[r * k + assignment[r]] = 1;
    }

    private static double ExpectationStep(double[] x, int n, int d, double[] weights, double[][] means, double[][] factors, double[] responsibilities)
    {
        int k = weights.Length;
        var solved = new double[d];
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < k; c++)
            {
                double value = Math.Log(weights[c]) + LogNormal(x.AsSpan(r * d, d), means[c], factors[c], solved);
                responsibilities[r * k + c] = value;
                max = Math.Max(max, value);
            }
            double sum = 0;
            for (int c = 0; c < k; c++)
                sum += Math.Exp(responsibilities[r * k + c] - max);
            double logSum = max + Math.Log(sum);
            for (int c = 0; c < k; c++)
                responsibilities[r * k + c] = Math.Exp(responsibilities[r * k + c] - logSum);
            total += logSum;
        }
        return total / n;
    }

    private static void MaximizationStep(double[] x, int n, int d, double[] responsibilities, Covariance pooled, double[] weights, double[][] means, double[][] factors)
    {
        int k = weights.Length;
        for (int c = 0; c < k; c++)
        {
            var covariance = Weighted(x, n, d, responsibilities, c, k, pooled.Diagonal, out var mean);
            double mass = 0;
            for (int r = 0; r < n; r++)
                mass += responsibilities[r * k + c];
            // An empty component restarts as the whole data's Gaussian with the weight of one row.
            if (mass < 1e-10 * n)
            {
                var all = new double[n];
                Array.Fill(all, 1.0);
                covariance = Weighted(x, n, d, all, 0, 1, pooled.Diagonal, out mean);
                mass = 1;
            }
            for (int i = 0; i < d; i++)
            {
                for (int j = 0; j <= i; j++)
                    covariance[i * d + j] = (1 - pooled.Shrinkage) * covariance[i * d + j] + pooled.Shrinkage * pooled.Matrix[i * d + j];
                covariance[i * d + i] += Regularization;
            }
            weights[c] = mass / n;
            means[c] = mean;
            factors[c] = Cholesky(covariance, d);
        }
        double total = weights.Sum();
        for (int c = 0; c < k; c++)
            weights[c] /= total;
    }

    /// <summary>The covariance (lower triangle, or diagonal only) and mean of the rows weighted by column <paramref name="c"/> of the k-column <paramref name="weights"/>.</summary>
    private static double[] Weighted(double[] x, int n, int d, double[] weights, int c, int k, bool diagonal, out double[] mean)
    {
        double mass = 0;
        mean = new double[d];
        for (int r = 0; r < n; r++)
        {
            double g = weights[r * k + c];
            mass += g;
            for (int j = 0; j < d; j++)
                mean[j] += g * x[r * d + j];
        }
        mass = Math.Max(mass, 1e-300);
        for (int j = 0; j < d; j++)
            mean[j] /= mass;
        var covariance = new double[d * d];
        for (int r = 0; r < n; r++)
        {
            double g = weights[r * k + c];
            if (g == 0)
                continue;
            for (int i = 0; i < d; i++)
            {
                double di = x[r * d + i] - mean[i];
                for (int j = diagonal ? i : 0; j <= i; j++)
                    covariance[i * d + j] += g * di * (x[r * d + j] - mean[j]);
            }
        }
        for (int i = 0; i < covariance.Length; i++)
            covariance[i] /= mass;
        return covariance;
    }

    /// <summary>How component covariances are estimated: diagonal or full, and shrunk by λ toward <see cref="Matrix"/>, the covariance of all rows.</summary>
    private sealed record Covariance(bool Diagonal, double Shrinkage, double[] Matrix);

    /// <summary>The lower factor of the lower triangle of <paramref name="a"/> (row-major); a diagonal <paramref name="a"/> gives a diagonal factor.</summary>
    private static double[] Cholesky(double[] a, int d)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * d + j];
                for (int m = 0; m < j; m++)
                    sum -= l[i * d + m] * l[j * d + m];
                l[i * d + j] = i == j ? Math.Sqrt(Math.Max(sum, Regularization)) : sum / l[j * d + j];
            }
        }
        return l;
    }

    private static double LogNormal(ReadOnlySpan<double> x, double[] mean, double[] factor, double[] solved)
    {
        int d = mean.Length;
        double squares = 0, logDiagonal = 0;
        for (int i = 0; i < d; i++)
        {
            double sum = x[i] - mean[i];
            for (int m = 0; m < i; m++)
                sum -= factor[i * d + m] * solved[m];
            solved[i] = sum / factor[i * d + i];
            squares += solved[i] * solved[i];
            logDiagonal += Math.Log(factor[i * d + i]);
        }
        return -0.5 * squares - logDiagonal - 0.5 * d * Math.Log(2 * Math.PI);
    }

    private static double SquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int j = 0; j < a.Length; j++)
            sum += (a[j] - b[j]) * (a[j] - b[j]);
        return sum;
    }
}
