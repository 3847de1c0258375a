using FlowService.Training.Datasets;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Jobs;

public class DatasetSplitTests
{
    static NumericTable Table(int rows)
    {
        var values = new double[rows * 3];
        for (int r = 0; r < rows; r++)
        {
            values[r * 3] = r;
            values[r * 3 + 1] = 1000 + r;
            values[r * 3 + 2] = -r;
        }
        return new NumericTable(["a", "ctx", "b"], rows, values);
    }

    [Fact]
    public void Split_is_a_seeded_partition_with_context_columns_taken_out()
    {
        var split = DatasetSplit.Create(Table(100), ["ctx"], 0.1, 0.2, seed: 7);
        Assert.Equal((70, 10, 20), (split.Train.Rows, split.Validation.Rows, split.Test.Rows));
        Assert.Equal(["a", "b"], split.FeatureColumns);
        var seen = new List<int>();
        foreach (var part in new[] { split.Train, split.Validation, split.Test })
            for (int i = 0; i < part.Rows; i++)
            {
                int row = (int)part.Features[i * 2];
                Assert.Equal(-row, part.Features[i * 2 + 1]);
                Assert.Equal(1000 + row, part.Context[i]);
                seen.Add(row);
            }
        Assert.Equal(Enumerable.Range(0, 100), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, 70).Select(i => (float)i), Enumerable.Range(0, 70).Select(i => split.Train.Features[i * 2]));

        var again = DatasetSplit.Create(Table(100), ["ctx"], 0.1, 0.2, seed: 7);
        Assert.Equal(split.Validation.Features, again.Validation.Features);
        Assert.NotEqual(split.Validation.Features, DatasetSplit.Create(Table(100), ["ctx"], 0.1, 0.2, seed: 8).Validation.Features);
    }

    [Fact]
    public void Tiny_datasets_keep_a_row_per_split_or_explain_why_not()
    {
        var split = DatasetSplit.Create(Table(3), [], 0.1, 0.1, seed: 1);
        Assert.Equal((1, 1, 1), (split.Train.Rows, split.Validation.Rows, split.Test.Rows));
        Assert.Empty(split.Train.Context);
        Assert.Contains("none to train on", Assert.Throws<InvalidOperationException>(() => DatasetSplit.Create(Table(2), [], 0.1, 0.1, 1)).Message);
    }
}
