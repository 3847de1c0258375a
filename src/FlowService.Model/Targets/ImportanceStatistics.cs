namespace FlowService.Model.Targets;

/// <summary>
/// What N samples x_i ~ q with log-weights log w_i = log p̃(x_i) - log q(x_i) say about a fit:
/// the reverse-KL estimate mean(log q - log p̃) = KL(q ‖ p) - log Z, the normalized effective sample size
/// (Σw)² / (N Σw²) in (0, 1] (1 when q ∝ p̃), and the importance-sampling estimate log Ẑ = log mean(w) with
/// its delta-method standard error sqrt((Σw² / (Σw)²) - 1/N) (the relative standard error of Ẑ).
/// </summary>
public sealed record ImportanceStatistics(double ReverseKl, double EffectiveSampleSize, double LogZ, double LogZStandardError, int Samples)
{
    public static ImportanceStatistics From(ReadOnlySpan<double> logWeights)
    {
        int n = logWeights.Length;
        if (n == 0)
            throw new ArgumentException("No samples.", nameof(logWeights));
        double max = double.NegativeInfinity, mean = 0;
        foreach (double v in logWeights)
        {
            max = Math.Max(max, v);
            mean += v;
        }
        mean /= n;
        if (!double.IsFinite(max) || !double.IsFinite(mean))
            return new ImportanceStatistics(-mean, double.NaN, double.NaN, double.NaN, n);
        double sum = 0, sumOfSquares = 0;
        foreach (double v in logWeights)
        {
            double w = Math.Exp(v - max);
            sum += w;
            sumOfSquares += w * w;
        }
        double shareOfSquares = sumOfSquares / (sum * sum);
        return new ImportanceStatistics(-mean, 1 / (n * shareOfSquares), max + Math.Log(sum / n), Math.Sqrt(Math.Max(0, shareOfSquares - 1.0 / n)), n);
    }
}
