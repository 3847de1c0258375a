using System.Globalization;
using System.Text.Json;
using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

/// <summary>
/// Which term of the served density p = (1 - ε) p_flow + ε N(x; μ, Σ) decides the anomaly ranking of a class-held-out
/// split: trains <c>spec</c> on the normal classes' training rows through the engine (the job's defaults and split), then
/// for the rows the split never trains on (<see cref="RealDatasets.Split.ForAnomalies"/>) prints the AUROC of -log p under
/// the served density, the flow alone and the defensive Gaussian alone (with a paired bootstrap interval of the served
/// density's AUROC minus the Gaussian's), how often each term dominates on the anomalies, and what the columns the normal
/// classes never leave (a pixel always 0 in digits 0-4: its dequantized values stay in [0, 1)) cost each term.
/// </summary>
static class AnomalyDiagnosis
{
    public static void Run(string name, string specJson, TrainingParameters p)
    {
        var suite = SuiteEntry.Load(name + ":anomaly", p);
        var (set, split) = (suite.Set, suite.Split);
        int d = set.Columns;
        var train = set.Train;
        using var doc = JsonDocument.Parse(specJson);
        var outcome = new NormalizingFlowEngine().Train(new TrainingRun(doc.RootElement, split, p, Path.Combine(Path.GetTempPath(), "q-" + Guid.NewGuid())),
            new Quiet(), CancellationToken.None);
        var trained = (TrainedFlow)outcome.Flow;
        var mixture = trained.Defensive ?? throw new InvalidOperationException("no defensive mixture");
        // The flow term of the served density: the committee's mean density where the search served one.
        var flowTerm = trained.WithDefensive(null);
        int n = set.TestRows;
        var flow = new float[n];
        flowTerm.LogProb(set.Test, n, [], flow);
        var gaussian = new double[n];
        mixture.Component.LogDensity(set.Test, n, gaussian);
        var served = Enumerable.Range(0, n).Select(r => mixture.Combine(flow[r], gaussian[r])).ToArray();
        var anomaly = suite.Set.AnomalyLabels;

        // Columns whose training values never reach the next unit of resolution: in the raw data, constant on the normal classes.
        var min = new double[d];
        var max = new double[d];
        Array.Fill(min, double.PositiveInfinity);
        Array.Fill(max, double.NegativeInfinity);
        for (int r = 0; r < set.TrainRows; r++)
            for (int j = 0; j < d; j++)
                (min[j], max[j]) = (Math.Min(min[j], train[r * d + j]), Math.Max(max[j], train[r * d + j]));
        var constant = Enumerable.Range(0, d).Where(j => max[j] - min[j] < 1.0 + 1e-6 && name == "digits").ToArray();
        var outside = Enumerable.Range(0, n).Select(r => Enumerable.Range(0, d).Count(j => set.Test[r * d + j] < min[j] || set.Test[r * d + j] > max[j])).ToArray();
        var outsideConstant = Enumerable.Range(0, n).Select(r => constant.Count(j => set.Test[r * d + j] > max[j])).ToArray();

        Console.WriteLine($"{name}: chosen {outcome.Selection?.Chosen}, eps {mixture.Weight}, test rows {n} ({anomaly.Count(a => a)} anomalies), constant columns {constant.Length}");
        foreach (var c in outcome.Selection?.Candidates ?? [])
            Console.WriteLine($"   {c.Name,-20} val {c.ValidationNll,10:F3} epochs {c.EpochsRun,4} best {c.BestEpoch,4} {c.Seconds,6:F1}s {c.Skipped}");
        Console.WriteLine($"AUROC served {AnomalyAuroc.Of(served, anomaly):F4}  flow {AnomalyAuroc.Of(flow.Select(v => (double)v).ToArray(), anomaly):F4}  gaussian {AnomalyAuroc.Of(gaussian, anomaly):F4}");
        var (low, high, atLeast) = PairedBootstrap(served, gaussian, anomaly, 2000);
        Console.WriteLine($"AUROC served minus gaussian: 95% interval [{low:F4}, {high:F4}] over 2,000 paired bootstrap resamples of the rows; served at least as high in {atLeast:P1}");
        PrintDecidingAnomalies(set.Train, set.TrainRows, set.Test, d, served, gaussian, anomaly);
        foreach (bool group in new[] { false, true })
        {
            var rows = Enumerable.Range(0, n).Where(r => anomaly[r] == group).ToArray();
            int gaussianWins = rows.Count(r => Math.Log(mixture.Weight) + gaussian[r] > Math.Log(1 - mixture.Weight) + flow[r]);
            Console.WriteLine($"{(group ? "anomalies" : "normals  "),-9}: {rows.Length} rows, mean log p served {rows.Average(r => served[r]),9:F2} flow {rows.Average(r => (double)flow[r]),9:F2} "
                + $"gaussian {rows.Average(r => gaussian[r]),9:F2}; gaussian term dominates {gaussianWins}; rows with a value outside the training range {rows.Count(r => outside[r] > 0)}, "
                + $"with a constant column left {rows.Count(r => outsideConstant[r] > 0)}");
        }
        // Within the rows that leave no constant column vs those that do: the AUROC against all normal rows.
        foreach (bool leaves in new[] { false, true })
        {
            if (!Enumerable.Range(0, n).Any(r => anomaly[r] && (outsideConstant[r] > 0) == leaves))
                continue;
            var mask = Enumerable.Range(0, n).Select(r => !anomaly[r] || (outsideConstant[r] > 0) == leaves).ToArray();
            var rows = Enumerable.Range(0, n).Where(r => mask[r]).ToArray();
            Console.WriteLine($"anomalies {(leaves ? "leaving" : "inside ")} constant columns ({rows.Count(r => anomaly[r])}): AUROC served {AnomalyAuroc.Of(rows.Select(r => served[r]).ToArray(), rows.Select(r => anomaly[r]).ToArray()):F4} "
                + $"flow {AnomalyAuroc.Of(rows.Select(r => (double)flow[r]).ToArray(), rows.Select(r => anomaly[r]).ToArray()):F4} gaussian {AnomalyAuroc.Of(rows.Select(r => gaussian[r]).ToArray(), rows.Select(r => anomaly[r]).ToArray()):F4}");
        }
        // The price of leaving the constant columns: each anomaly's log p minus that of the same row with those columns put back at their training mean.
        if (outsideConstant.Any(count => count > 0))
        {
            var moved = set.Test.ToArray();
            for (int r = 0; r < n; r++)
                foreach (int j in constant)
                    if (moved[r * d + j] > max[j])
                        moved[r * d + j] = (float)(0.5 * (min[j] + max[j]));
            var flowMoved = new float[n];
            flowTerm.LogProb(moved, n, [], flowMoved);
            var gaussianMoved = new double[n];
            mixture.Component.LogDensity(moved, n, gaussianMoved);
            var rows = Enumerable.Range(0, n).Where(r => outsideConstant[r] > 0).ToArray();
            Console.WriteLine($"leaving constant columns costs (mean over {rows.Length} rows, nats): flow {rows.Average(r => (double)flowMoved[r] - flow[r]):F1}, "
                + $"gaussian {rows.Average(r => gaussianMoved[r] - gaussian[r]):F1}; AUROC with them put back: flow {AnomalyAuroc.Of(flowMoved.Select(v => (double)v).ToArray(), anomaly):F4} "
                + $"gaussian {AnomalyAuroc.Of(gaussianMoved, anomaly):F4}");
        }
        // DIAGNOSIS_LATENT=prefix: the flow's latent codes and log-determinants of the job's training and validation rows and of
        // the held-out rows (prefix_train.csv, prefix_validation.csv, prefix_test.csv: z..., logDet), to fit bases to them offline.
        if (Environment.GetEnvironmentVariable("DIAGNOSIS_LATENT") is { Length: > 0 } prefix)
            foreach (var (part, x, rows) in new[] { ("train", split.Train.Features, split.Train.Rows), ("validation", split.Validation.Features, split.Validation.Rows), ("test", set.Test, n) })
            {
                var z = new float[rows * d];
                var logDet = new float[rows];
                trained.Flow.Encode(x, rows, [], z, logDet);
                File.WriteAllLines($"{prefix}_{part}.csv", Enumerable.Range(0, rows).Select(r => string.Join(',',
                    z.AsSpan(r * d, d).ToArray().Append(logDet[r]).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            }
        if (Environment.GetEnvironmentVariable("DIAGNOSIS_DUMP") is { Length: > 0 } dump)
            File.WriteAllLines(dump, Enumerable.Range(0, n).Select(r => string.Join(',', anomaly[r] ? 1 : 0, flow[r].ToString("R", CultureInfo.InvariantCulture),
                gaussian[r].ToString("R", CultureInfo.InvariantCulture), outsideConstant[r])));
    }

    /// <summary>
    /// The anomalies that alone decide whether the served density ranks below the Gaussian: those whose removal puts it
    /// level or ahead. For each: how many normal rows score below it under each density, and how far it lies from the
    /// normal classes' training rows (its largest |z| over the columns), to tell a row no density could flag from one
    /// that the flow misjudges.
    /// </summary>
    static void PrintDecidingAnomalies(float[] train, int trainRows, float[] test, int d, double[] served, double[] gaussian, bool[] anomaly)
    {
        if (AnomalyAuroc.Of(served, anomaly) >= AnomalyAuroc.Of(gaussian, anomaly))
            return;
        var mean = new double[d];
        var sd = new double[d];
        for (int j = 0; j < d; j++)
        {
            for (int r = 0; r < trainRows; r++)
                mean[j] += train[r * d + j] / (double)trainRows;
            for (int r = 0; r < trainRows; r++)
                sd[j] += Math.Pow(train[r * d + j] - mean[j], 2) / trainRows;
            sd[j] = Math.Sqrt(sd[j]);
        }
        int n = anomaly.Length;
        foreach (int row in Enumerable.Range(0, n).Where(r => anomaly[r]))
        {
            var others = Enumerable.Range(0, n).Where(r => r != row).ToArray();
            var labels = others.Select(r => anomaly[r]).ToArray();
            double servedWithout = AnomalyAuroc.Of(others.Select(r => served[r]).ToArray(), labels);
            double gaussianWithout = AnomalyAuroc.Of(others.Select(r => gaussian[r]).ToArray(), labels);
            if (servedWithout < gaussianWithout)
                continue;
            double largestZ = Enumerable.Range(0, d).Max(j => Math.Abs(test[row * d + j] - mean[j]) / Math.Max(sd[j], 1e-12));
            Console.WriteLine($"anomaly row {row} alone decides: without it AUROC served {servedWithout:F4} gaussian {gaussianWithout:F4}; "
                + $"normal rows scoring below it: served {Enumerable.Range(0, n).Count(r => !anomaly[r] && served[r] < served[row])}, "
                + $"gaussian {Enumerable.Range(0, n).Count(r => !anomaly[r] && gaussian[r] < gaussian[row])} of {anomaly.Count(a => !a)}; "
                + $"largest |z| against the normal training rows {largestZ:F2}");
        }
    }

    /// <summary>
    /// How far the rows decide AUROC(a) - AUROC(b): the 2.5% and 97.5% quantiles of the difference over resamples that draw the
    /// anomalous and the normal rows with replacement (each group keeps its size; both scores of a row travel together), and
    /// the share of resamples in which a is at least b.
    /// </summary>
    public static (double Low, double High, double AtLeast) PairedBootstrap(double[] a, double[] b, bool[] anomaly, int resamples)
    {
        var positives = Enumerable.Range(0, anomaly.Length).Where(r => anomaly[r]).ToArray();
        var negatives = Enumerable.Range(0, anomaly.Length).Where(r => !anomaly[r]).ToArray();
        var random = new PortableRandom(1);
        var differences = new double[resamples];
        for (int k = 0; k < resamples; k++)
        {
            var rows = positives.Select(_ => positives[random.NextInt(positives.Length)])
                .Concat(negatives.Select(_ => negatives[random.NextInt(negatives.Length)])).ToArray();
            var labels = rows.Select(r => anomaly[r]).ToArray();
            differences[k] = AnomalyAuroc.Of(rows.Select(r => a[r]).ToArray(), labels) - AnomalyAuroc.Of(rows.Select(r => b[r]).ToArray(), labels);
        }
        Array.Sort(differences);
        return (differences[(int)(0.025 * resamples)], differences[(int)(0.975 * resamples) - 1], differences.Count(v => v >= 0) / (double)resamples);
    }
}
