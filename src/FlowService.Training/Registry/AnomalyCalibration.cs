namespace FlowService.Training.Registry;

/// <summary>
/// How typical a log p is for a model: the validation rows' log p, summarised as quantiles at fixed
/// levels (0.1%, 1%, 5%, ...) and as a reference grid of 1001 evenly spaced quantiles from which any
/// percentile and any anomaly threshold is interpolated.
/// </summary>
public sealed record AnomalyCalibration(IReadOnlyDictionary<string, double> Quantiles, double[] Reference, int Rows)
{
    public static readonly double[] Levels = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9];

    const int GridPoints = 1001;

    public static AnomalyCalibration FromValidationLogProb(ReadOnlySpan<float> logProb)
    {
        if (logProb.Length == 0)
            throw new ArgumentException("Calibration needs at least one validation row.", nameof(logProb));
        var sorted = new double[logProb.Length];
        for (int i = 0; i < sorted.Length; i++)
            sorted[i] = logProb[i];
        Array.Sort(sorted);
        var grid = new double[GridPoints];
        for (int i = 0; i < GridPoints; i++)
            grid[i] = Interpolate(sorted, i / (double)(GridPoints - 1));
        var quantiles = Levels.ToDictionary(l => l.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture), l => Interpolate(sorted, l));
        return new AnomalyCalibration(quantiles, grid, sorted.Length);
    }

    /// <summary>The log p below which a share <paramref name="level"/> of validation rows fall.</summary>
    public double Threshold(double level) => Interpolate(Reference, level);

    /// <summary>The share of validation rows with a lower log p, in [0, 1].</summary>
    public double Percentile(double logProb)
    {
        if (double.IsNaN(logProb) || logProb <= Reference[0]) return 0;
        if (logProb >= Reference[^1]) return 1;
        int hi = Array.BinarySearch(Reference, logProb);
        if (hi >= 0)
        {
            while (hi > 0 && Reference[hi - 1] == logProb) hi--;
            return hi / (double)(Reference.Length - 1);
        }
        hi = ~hi;
        int lo = hi - 1;
        double t = (logProb - Reference[lo]) / (Reference[hi] - Reference[lo]);
        return (lo + t) / (Reference.Length - 1);
    }

    /// <summary>Linear interpolation between order statistics (NumPy's default "linear" method).</summary>
    static double Interpolate(double[] sorted, double level)
    {
        double position = Math.Clamp(level, 0, 1) * (sorted.Length - 1);
        int lo = (int)Math.Floor(position);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
    }
}
