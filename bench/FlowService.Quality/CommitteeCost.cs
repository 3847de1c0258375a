using System.Diagnostics;
using System.Text.Json;
using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

/// <summary>
/// What serving a cross-validated search's committee costs: trains the default job on a suite set, saves and loads it as the
/// service does (frozen for serving), then times the served log p of 10,000 rows (the held-out rows repeated) and of one row,
/// for the committee and for its first member alone with the same defensive mixture, twice each, alternated. Usage: <c>committee-cost SET,...</c>.
/// </summary>
static class CommitteeCost
{
    public static void Run(string name)
    {
        var p = new TrainingParameters();
        var (_, _, set, split, _) = SuiteEntry.Load(name, p);
        using var doc = JsonDocument.Parse("""{"type":"auto"}""");
        var engine = new NormalizingFlowEngine();
        string folder = Path.Combine(Path.GetTempPath(), "cc-" + Guid.NewGuid());
        var outcome = engine.Train(new TrainingRun(doc.RootElement, split, p, Path.Combine(folder, "state")), new Quiet(), CancellationToken.None);
        var trained = (TrainedFlow)outcome.Flow;
        // As the service holds them: saved and loaded from checkpoints (frozen for serving).
        engine.Save(trained, doc.RootElement, Path.Combine(folder, "committee"));
        engine.Save(new TrainedFlow(trained.Flow, trained.Columns, trained.ContextColumns, trained.Defensive), doc.RootElement, Path.Combine(folder, "single"));
        var committee = (TrainedFlow)engine.Load(Path.Combine(folder, "committee"));
        var single = (TrainedFlow)engine.Load(Path.Combine(folder, "single"));
        int rows = 10_000, d = set.Columns;
        var x = new float[rows * d];
        for (int r = 0; r < rows; r++) set.Test.AsSpan((r % set.TestRows) * d, d).CopyTo(x.AsSpan(r * d, d));
        var lp = new float[rows];
        foreach (var (label, flow) in new[] { ("single", single), ("committee", committee), ("single", single), ("committee", committee) })
        {
            for (int w = 0; w < 5; w++) flow.LogProb(x, rows, [], lp);
            var times = new List<double>();
            for (int i = 0; i < 20; i++) { var sw = Stopwatch.StartNew(); flow.LogProb(x, rows, [], lp); times.Add(sw.Elapsed.TotalMilliseconds); }
            times.Sort();
            Console.WriteLine($"{name} {label} ({flow.Members.Count} flows, {committee.Flow.Layout.Length} parameters each): median {times[10]:F2} ms per {rows} rows; 1 row: {Time(flow, x, d):F1} us");
        }
    }

    static double Time(TrainedFlow flow, float[] x, int d)
    {
        var lp = new float[1];
        for (int w = 0; w < 200; w++) flow.LogProb(x.AsSpan(0, d), 1, [], lp);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 2000; i++) flow.LogProb(x.AsSpan(0, d), 1, [], lp);
        return sw.Elapsed.TotalMilliseconds * 1000 / 2000;
    }
}
