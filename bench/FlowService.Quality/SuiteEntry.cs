using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Jobs;

/// <summary>
/// A suite set as every mode of this tool trains on it: "NAME" or "NAME:anomaly" (then its class-held-out anomaly split,
/// <see cref="RealDatasets.Split.ForAnomalies"/>), and the job's split of those training rows under the given parameters.
/// <paramref name="HeldOutRows"/>: how many of the scored rows lead Set.Test as the suite's held-out part (all of them but in
/// an anomaly split, which appends the training rows of its anomaly classes).
/// </summary>
sealed record SuiteEntry(string Name, bool Anomaly, RealDatasets.Split Set, DatasetSplit Split, int HeldOutRows)
{
    public static SuiteEntry Load(string entry, TrainingParameters p)
    {
        string name = entry.Split(':')[0];
        bool anomaly = entry.EndsWith(":anomaly", StringComparison.Ordinal);
        var loaded = RealDatasets.Load(name);
        var set = anomaly ? loaded.ForAnomalies() : loaded;
        int d = set.Columns;
        var table = new NumericTable(Enumerable.Range(0, d).Select(j => $"c{j}").ToArray(), set.TrainRows, set.Train.Select(v => (double)v).ToArray());
        return new SuiteEntry(name, anomaly, set, DatasetSplit.Create(table, [], p.ValidationFraction, p.TestFraction, p.Seed), loaded.TestRows);
    }
}
