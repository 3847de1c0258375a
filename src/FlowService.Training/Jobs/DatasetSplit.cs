using FlowService.Training.Datasets;

namespace FlowService.Training.Jobs;

/// <summary>
/// A job's data as the engine takes it: the dataset's rows shuffled once with the job's seed and cut
/// into train, validation and test parts, each as float32 row-major features and context columns.
/// The same seed always gives the same split, so a resumed job trains on the same rows.
/// </summary>
public sealed class DatasetSplit
{
    public required Part Train { get; init; }

    public required Part Validation { get; init; }

    public required Part Test { get; init; }

    public required IReadOnlyList<string> FeatureColumns { get; init; }

    public required IReadOnlyList<string> ContextColumns { get; init; }

    public sealed record Part(float[] Features, float[] Context, int Rows);

    public static DatasetSplit Create(NumericTable table, IReadOnlyList<string> contextColumns, double validationFraction, double testFraction, int seed)
    {
        var contextIndex = contextColumns.Select(name => IndexOf(table, name)).ToArray();
        var featureIndex = Enumerable.Range(0, table.ColumnCount).Where(c => !contextIndex.Contains(c)).ToArray();

        var order = Enumerable.Range(0, table.Rows).ToArray();
        new Random(seed).Shuffle(order);
        int validation = Math.Max(1, (int)Math.Round(table.Rows * validationFraction));
        int test = testFraction > 0 ? Math.Max(1, (int)Math.Round(table.Rows * testFraction)) : 0;
        int train = table.Rows - validation - test;
        if (train < 1)
            throw new InvalidOperationException($"The dataset's {table.Rows} rows leave none to train on after holding out {validation} for validation and {test} for test; upload more rows.");

        Part Take(int start, int count)
        {
            var features = new float[(long)count * featureIndex.Length];
            var context = new float[(long)count * contextIndex.Length];
            for (int i = 0; i < count; i++)
            {
                int row = order[start + i];
                for (int j = 0; j < featureIndex.Length; j++)
                    features[(long)i * featureIndex.Length + j] = (float)table[row, featureIndex[j]];
                for (int j = 0; j < contextIndex.Length; j++)
                    context[(long)i * contextIndex.Length + j] = (float)table[row, contextIndex[j]];
            }
            return new Part(features, context, count);
        }

        return new DatasetSplit
        {
            Train = Take(0, train),
            Validation = Take(train, validation),
            Test = Take(train + validation, test),
            FeatureColumns = featureIndex.Select(c => table.Columns[c]).ToArray(),
            ContextColumns = contextColumns.ToArray(),
        };
    }

    static int IndexOf(NumericTable table, string name)
    {
        for (int c = 0; c < table.ColumnCount; c++)
            if (table.Columns[c] == name)
                return c;
        throw new InvalidOperationException($"Context column '{name}' is not in the dataset.");
    }
}
