using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Jobs;

/// <summary>
/// A suite set as every mode of this tool trains on it: "NAME" or "NAME:anomaly" (then only the training rows of the set's
/// normal classes; the held-out rows keep every class), and the job's split of those training rows under the given parameters.
/// </summary>
sealed record SuiteEntry(string Name, bool Anomaly, RealDatasets.Split Set, DatasetSplit Split)
{
    public static SuiteEntry Load(string entry, TrainingParameters p)
    {
        string name = entry.Split(':')[0];
        bool anomaly = entry.EndsWith(":anomaly", StringComparison.Ordinal);
        var set = RealDatasets.Load(name);
        int d = set.Columns;
        if (anomaly)
        {
            var keep = Enumerable.Range(0, set.TrainRows).Where(r => set.NormalClasses!.Contains(set.TrainLabels[r])).ToArray();
            set = set with { Train = keep.SelectMany(r => set.Train.AsSpan(r * d, d).ToArray()).ToArray() };
        }
        var table = new NumericTable(Enumerable.Range(0, d).Select(j => $"c{j}").ToArray(), set.TrainRows, set.Train.Select(v => (double)v).ToArray());
        return new SuiteEntry(name, anomaly, set, DatasetSplit.Create(table, [], p.ValidationFraction, p.TestFraction, p.Seed));
    }

    /// <summary>Per held-out row, whether its class is outside the normal ones (the set must have normal classes).</summary>
    public bool[] AnomalyLabels => Set.TestLabels.Select(l => !Set.NormalClasses!.Contains(l)).ToArray();
}
