namespace FlowService.Training.Datasets;

/// <summary>Summary of one column: mean, population standard deviation, min and max.</summary>
public sealed record ColumnStatistics(string Name, double Mean, double Std, double Min, double Max)
{
    /// <summary>Statistics of every column, computed in one pass per column with Welford's update (stable for large means).</summary>
    public static IReadOnlyList<ColumnStatistics> Compute(NumericTable table)
    {
        var result = new ColumnStatistics[table.ColumnCount];
        int cols = table.ColumnCount;
        for (int c = 0; c < cols; c++)
        {
            double mean = 0, m2 = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
            for (int r = 0; r < table.Rows; r++)
            {
                double v = table.Values[r * cols + c];
                double delta = v - mean;
                mean += delta / (r + 1);
                m2 += delta * (v - mean);
                if (v < min) min = v;
                if (v > max) max = v;
            }
            double std = table.Rows > 0 ? Math.Sqrt(m2 / table.Rows) : 0;
            result[c] = new ColumnStatistics(table.Columns[c], mean, std, min, max);
        }
        return result;
    }
}
