using System.Diagnostics;
using System.Text.Json;
using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

// Scratch: trains one spec on suite sets through the engine (not HTTP) and prints held-out mean log p.
// Usage: dotnet run -c Release --project bench/FlowService.Quality -- SPEC_JSON set1,set2 [epochs]
if (args.Length > 0 && args[0] == "sha")
{
    foreach (var n in RealDatasets.Names)
    {
        var s = RealDatasets.Load(n);
        Console.WriteLine($"{n} {s.TrainRows}x{s.Columns} {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(s.Train.AsSpan())))[..12]} {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(s.Test.AsSpan())))[..12]}");
    }
    return;
}
if (args.Length > 0 && args[0] == "timing")
{
    // Issue 11's budget goal: the default job on 10,000 rows x 10 columns (a skewed, correlated, two-cluster set).
    var random = new PortableRandom(10);
    var values = new double[10_000 * 10];
    for (int r = 0; r < 10_000; r++)
    {
        double cluster = random.NextDouble() < 0.3 ? 3 : 0, a = random.NextNormal();
        for (int j = 0; j < 10; j++)
            values[r * 10 + j] = cluster + (j % 2 == 0 ? Math.Exp(0.5 * a) : a * (j + 1) * 0.1) + 0.5 * random.NextNormal();
    }
    var timingTable = new NumericTable(Enumerable.Range(0, 10).Select(j => $"c{j}").ToArray(), 10_000, values);
    var tp = new TrainingParameters();
    var timingSplit = DatasetSplit.Create(timingTable, [], tp.ValidationFraction, tp.TestFraction, tp.Seed);
    var clock = Stopwatch.StartNew();
    using var autoSpec = JsonDocument.Parse("""{"type":"auto"}""");
    var timed = new NormalizingFlowEngine().Train(new TrainingRun(autoSpec.RootElement, timingSplit, tp, Path.Combine(Path.GetTempPath(), "q-" + Guid.NewGuid())), new Quiet(), CancellationToken.None);
    Console.WriteLine($"10,000 x 10 default job: {clock.Elapsed.TotalSeconds:F1} s, chosen {timed.Selection?.Chosen}");
    foreach (var c in timed.Selection?.Candidates ?? [])
        Console.WriteLine($"   {c.Name,-20} val {c.ValidationNll,10:F3} epochs {c.EpochsRun,4} best {c.BestEpoch,4} {c.Seconds,6:F1}s {c.Skipped}");
    return;
}
if (args.Length > 1 && args[0] == "committee-cost")
{
    foreach (var n in args[1].Split(',')) CommitteeCost.Run(n);
    return;
}
if (args.Length > 1 && args[0] == "stack")
{
    foreach (var entry in args[1].Split(','))
        StackingDiagnosis.Run(entry, new TrainingParameters { Seed = Seed() });
    return;
}
if (args.Length > 1 && args[0] == "diagnose")
{
    // diagnose SET [SPEC]: which term of the served density ranks the anomaly split (AnomalyDiagnosis).
    AnomalyDiagnosis.Run(args[1], args.Length > 2 ? args[2] : """{"type":"auto"}""", new TrainingParameters { Seed = Seed() });
    return;
}
string specJson = args.Length > 0 ? args[0] : """{"type":"auto"}""";
var names = args.Length > 1 ? args[1].Split(',') : RealDatasets.Names.Where(n => !n.StartsWith("fashion")).ToArray();
var p = new TrainingParameters { Epochs = args.Length > 2 ? int.Parse(args[2]) : 50, Seed = Seed() };
if (args.Length > 3) p = p with { BatchSize = int.Parse(args[3]) };
if (args.Length > 4) p = p with { LearningRate = double.Parse(args[4]) };
foreach (var entry in names)
{
    // "set:anomaly" trains on the set's normal classes and reports the AUROC of -log p.
    var suite = SuiteEntry.Load(entry, p);
    var (name, anomaly, set, split, heldOut) = suite;
    // QUALITY_DUMP=folder: write the job's training and validation rows (the flow's 80% and 10%), the held-out rows and their
    // labels as CSV ("NAME_anomaly_*" for an anomaly split), train nothing; tools/reference/job_split_baselines.py fits the
    // classical estimators on exactly the rows the flow sees, tools/reference/latent_class_density.py its prototypes.
    if (Environment.GetEnvironmentVariable("QUALITY_DUMP") is { Length: > 0 } dump)
    {
        string stem = anomaly ? name + "_anomaly" : name;
        WriteCsv(Path.Combine(dump, $"{stem}_jobtrain.csv"), split.Train.Features, set.Columns);
        WriteCsv(Path.Combine(dump, $"{stem}_jobvalidation.csv"), split.Validation.Features, set.Columns);
        WriteCsv(Path.Combine(dump, $"{stem}_test.csv"), set.Test, set.Columns);
        File.WriteAllLines(Path.Combine(dump, $"{stem}_testlabels.csv"), set.TestLabels.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        continue;
    }
    var engine = new NormalizingFlowEngine();
    var sw = Stopwatch.StartNew();
    using var doc = JsonDocument.Parse(specJson);
    var outcome = engine.Train(new TrainingRun(doc.RootElement, split, p, Path.Combine(Path.GetTempPath(), "q-" + Guid.NewGuid())), new Quiet(), CancellationToken.None);
    var lp = new float[set.TestRows];
    outcome.Flow.LogProb(set.Test, set.TestRows, [], lp);
    // QUALITY_ROWS=folder: each held-out row's served log p (one a line), for offline comparisons such as mixing two candidates.
    if (Environment.GetEnvironmentVariable("QUALITY_ROWS") is { Length: > 0 } rowsFolder)
        File.WriteAllLines(Path.Combine(rowsFolder, $"{name}.txt"), lp.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
    // The AUROC over every row the anomaly split never trains on, then over the suite's held-out rows alone (the measure
    // before the training rows of the anomaly classes were counted too).
    if (anomaly)
        Console.WriteLine($"{name,-16} AUROC {AnomalyAuroc.Of(lp.Select(v => (double)v).ToArray(), suite.Set.AnomalyLabels):F4} held-out rows only "
            + $"{AnomalyAuroc.Of(lp.Take(heldOut).Select(v => (double)v).ToArray(), suite.Set.AnomalyLabels[..heldOut]):F4}");
    Console.WriteLine($"{name,-16} mean {lp.Average(v => (double)v),10:F3} min {lp.Min(),10:F2} epochs {outcome.EpochsRun} best {outcome.BestEpoch} {sw.Elapsed.TotalSeconds:F1}s eps {(outcome.Flow as TrainedFlow)?.Defensive?.Weight}");
    foreach (var c in outcome.Selection?.Candidates ?? [])
        Console.WriteLine($"   {c.Name,-20} val {c.ValidationNll,10:F3} epochs {c.EpochsRun,4} best {c.BestEpoch,4} {c.Seconds,6:F1}s {c.Skipped}");
}

// QUALITY_SEED=n: the job's seed (its validation/test split and every initialization) instead of the default, to see how much
// a figure moves with the seed alone.
static int Seed() => int.TryParse(Environment.GetEnvironmentVariable("QUALITY_SEED"), out int seed) ? seed : new TrainingParameters().Seed;

static void WriteCsv(string path, float[] values, int columns) =>
    File.WriteAllLines(path, Enumerable.Range(0, values.Length / columns).Select(r =>
        string.Join(",", values.AsSpan(r * columns, columns).ToArray().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))));

sealed class Quiet : ITrainingObserver
{
    public void EpochFinished(EpochRecord record) { }
    public void Resumed(int epoch) { }
}
