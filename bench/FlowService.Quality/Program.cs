using System.Diagnostics;
using System.Text.Json;
using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

// Scratch: trains one spec on suite sets through the engine (not HTTP) and prints held-out mean log p.
// Usage: dotnet run -c Release --project bench/FlowService.Quality -- SPEC_JSON set1,set2 [epochs]
string specJson = args.Length > 0 ? args[0] : """{"type":"realnvp"}""";
var names = args.Length > 1 ? args[1].Split(',') : RealDatasets.Names.Where(n => !n.StartsWith("fashion")).ToArray();
var p = new TrainingParameters { Epochs = args.Length > 2 ? int.Parse(args[2]) : 50 };
if (args.Length > 3) p = p with { BatchSize = int.Parse(args[3]) };
if (args.Length > 4) p = p with { LearningRate = double.Parse(args[4]) };
foreach (var name in names)
{
    var set = RealDatasets.Load(name);
    var columns = Enumerable.Range(0, set.Columns).Select(j => $"c{j}").ToArray();
    var table = new NumericTable(columns, set.TrainRows, set.Train.Select(v => (double)v).ToArray());
    var split = DatasetSplit.Create(table, [], p.ValidationFraction, p.TestFraction, p.Seed);
    // QUALITY_DUMP=folder: write the job's training rows (the flow's 80%) and the held-out rows as CSV, train nothing;
    // tools/reference/job_split_baselines.py fits the classical estimators on exactly the rows the flow sees.
    if (Environment.GetEnvironmentVariable("QUALITY_DUMP") is { Length: > 0 } dump)
    {
        WriteCsv(Path.Combine(dump, $"{name}_jobtrain.csv"), split.Train.Features, set.Columns);
        WriteCsv(Path.Combine(dump, $"{name}_test.csv"), set.Test, set.Columns);
        continue;
    }
    var engine = new NormalizingFlowEngine();
    var sw = Stopwatch.StartNew();
    using var doc = JsonDocument.Parse(specJson);
    var outcome = engine.Train(new TrainingRun(doc.RootElement, split, p, Path.Combine(Path.GetTempPath(), "q-" + Guid.NewGuid())), new Quiet(), CancellationToken.None);
    var lp = new float[set.TestRows];
    outcome.Flow.LogProb(set.Test, set.TestRows, [], lp);
    Console.WriteLine($"{name,-16} mean {lp.Average(v => (double)v),10:F3} min {lp.Min(),10:F2} epochs {outcome.EpochsRun} best {outcome.BestEpoch} {sw.Elapsed.TotalSeconds:F1}s");
}

static void WriteCsv(string path, float[] values, int columns) =>
    File.WriteAllLines(path, Enumerable.Range(0, values.Length / columns).Select(r =>
        string.Join(",", values.AsSpan(r * columns, columns).ToArray().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))));

sealed class Quiet : ITrainingObserver
{
    public void EpochFinished(EpochRecord record) { }
    public void Resumed(int epoch) { }
}
