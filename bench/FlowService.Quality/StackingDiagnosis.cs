using System.Text.Json;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;
using FlowService.Tests.Shared;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

/// <summary>
/// Issue 11, seventh pass: what the "auto" search's candidates would score on the suite's held-out rows if served otherwise.
/// Trains the default job (or STACK_SPEC) on a suite set, then for every candidate prints its selection NLL (validation or
/// out-of-fold) and held-out mean log p (AUROC on an anomaly split) as one model: trained on the job's training rows, or, when
/// cross-validated, refitted on every row for the folds' mean best epoch (what the search served before the committee). With
/// cross-validation it also prints each candidate's committee of fold models ("bag"; STACK_BAG=chosen: the winner's only).
/// Last, a linear pool of all candidates with weights fitted by EM on the selection rows (stacking), with a leave-one-out check
/// of those weights' optimism. Usage: <c>stack SET[:anomaly],...</c> (QUALITY_SEED as for the other modes).
/// </summary>
static class StackingDiagnosis
{
    public static void Run(string entry, TrainingParameters p)
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
        var split = DatasetSplit.Create(table, [], p.ValidationFraction, p.TestFraction, p.Seed);
        string folder = Path.Combine(Path.GetTempPath(), $"stack-{name}{(anomaly ? "-anomaly" : "")}-s{p.Seed}");
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);   // a search resumes from its state: start each run afresh
        using var doc = JsonDocument.Parse(Environment.GetEnvironmentVariable("STACK_SPEC") ?? """{"type":"auto"}""");
        var engine = new NormalizingFlowEngine();
        var outcome = engine.Train(new TrainingRun(doc.RootElement, split, p, folder), new Quiet(), CancellationToken.None);
        int n = set.TestRows;
        var single = new float[n];
        outcome.Flow.LogProb(set.Test, n, [], single);
        bool[]? labels = anomaly ? set.TestLabels.Select(l => !set.NormalClasses!.Contains(l)).ToArray() : null;

        var candidates = AutoFlowSearch.Candidates(split.Train.Rows, d, 0, p);
        int folds = AutoFlowSearch.FoldsFor(FlowSpec.From(doc.RootElement), split);
        var normalization = Standardization.Fit(split.Train.Features, d);
        var pool = new DatasetSplit.Part([.. split.Train.Features, .. split.Validation.Features, .. split.Test.Features], [], split.Train.Rows + split.Validation.Rows + split.Test.Rows);
        var gaussianTrain = FullCovarianceGaussian.Fit(split.Train.Features, d);
        var gaussianPool = FullCovarianceGaussian.Fit(pool.Features, d);
        var names = new List<string>();
        var selection = new List<double[]>();
        var heldOut = new List<double[]>();
        for (int i = 0; i < candidates.Count; i++)
        {
            string path = Path.Combine(folder, $"auto-candidate-{i}.json");
            if (!File.Exists(path))
                continue;
            using var state = JsonDocument.Parse(File.ReadAllBytes(path));
            var rowNll = state.RootElement.GetProperty("rowNll").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var spec = FlowSpec.From(candidates[i].Spec);
            var flow = NormalizingFlow.Create(spec, d, 0, p.Seed, normalization, engine.Backend);
            DefensiveMixture mixture;
            if (folds >= 2)
            {
                int epochs = state.RootElement.GetProperty("refitEpochs").GetInt32();
                var q = candidates[i].Parameters with { Epochs = epochs, Schedule = "constant", Patience = epochs + 1 };
                var result = new FlowTrainer(flow, q).Train(pool, pool, new Quiet(), Path.Combine(folder, $"stack-refit-{i}"), $"stack/{i}/{epochs}", CancellationToken.None);
                flow.SetParameters(result.BestParameters);
                mixture = new DefensiveMixture(state.RootElement.GetProperty("weight").GetDouble(), gaussianPool);
            }
            else
            {
                flow.SetParameters(state.RootElement.GetProperty("parameters").EnumerateArray().Select(e => e.GetSingle()).ToArray());
                var fv = new float[split.Validation.Rows];
                flow.LogProb(split.Validation.Features, split.Validation.Rows, [], fv);
                var gv = new double[split.Validation.Rows];
                gaussianTrain.LogDensity(split.Validation.Features, split.Validation.Rows, gv);
                mixture = DefensiveMixture.Choose(gaussianTrain, fv, gv);
            }
            var f = new float[n];
            flow.LogProb(set.Test, n, [], f);
            var g = new double[n];
            mixture.Component.LogDensity(set.Test, n, g);
            names.Add(candidates[i].Name);
            selection.Add(rowNll.Select(v => -v).ToArray());
            heldOut.Add(Enumerable.Range(0, n).Select(r => mixture.Combine(f[r], g[r])).ToArray());
        }
        // The fold bag: each candidate's k fold models (trained on the other folds with early stopping on their own), their
        // served densities averaged, log (1/k) sum_f p_f(x): no refit.
        var bags = new List<double[]>();
        if (folds >= 2)
            for (int k = 0; k < names.Count; k++)
            {
                if (Environment.GetEnvironmentVariable("STACK_BAG") == "chosen" && names[k] != outcome.Selection?.Chosen)
                    continue;
                int i = candidates.ToList().FindIndex(c => c.Name == names[k]);
                using var state = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, $"auto-candidate-{i}.json")));
                double weight = state.RootElement.GetProperty("weight").GetDouble();
                var perFold = new List<double[]>();
                for (int f = 0; f < folds; f++)
                {
                    int start = (int)((long)pool.Rows * f / folds), end = (int)((long)pool.Rows * (f + 1) / folds);
                    var held = new DatasetSplit.Part(pool.Features.AsSpan(start * d, (end - start) * d).ToArray(), [], end - start);
                    var train = new DatasetSplit.Part([.. pool.Features.AsSpan(0, start * d), .. pool.Features.AsSpan(end * d)], [], pool.Rows - (end - start));
                    var flow = NormalizingFlow.Create(FlowSpec.From(candidates[i].Spec), d, 0, p.Seed, normalization, engine.Backend);
                    var result = new FlowTrainer(flow, candidates[i].Parameters).Train(train, held, new Quiet(), Path.Combine(folder, $"bag-{i}-{f}"), $"bag/{i}/{f}", CancellationToken.None);
                    flow.SetParameters(result.BestParameters);
                    var mixture = new DefensiveMixture(weight, FullCovarianceGaussian.Fit(train.Features, d));
                    var fl = new float[n];
                    flow.LogProb(set.Test, n, [], fl);
                    var g = new double[n];
                    mixture.Component.LogDensity(set.Test, n, g);
                    perFold.Add(Enumerable.Range(0, n).Select(r => mixture.Combine(fl[r], g[r])).ToArray());
                }
                bags.Add(Pool(perFold, Enumerable.Repeat(1.0 / folds, folds).ToArray()));
            }
        Console.WriteLine($"{entry}: folds {folds}, chosen {outcome.Selection?.Chosen}, single held-out {single.Average(v => (double)v):F3}{(labels is null ? "" : $" AUROC {AnomalyDiagnosis.Auroc(single.Select(v => (double)v).ToArray(), labels):F4}")}");
        for (int k = 0; k < names.Count; k++)
            Console.WriteLine($"   {names[k],-36} selection {selection[k].Average(),9:F3} held-out {heldOut[k].Average(),9:F3}{(labels is null ? "" : $" AUROC {AnomalyDiagnosis.Auroc(heldOut[k], labels):F4}")}");
        var bagNames = Environment.GetEnvironmentVariable("STACK_BAG") == "chosen" ? [outcome.Selection!.Chosen] : names;
        for (int k = 0; k < bags.Count; k++)
            Console.WriteLine($"   bag {bagNames[k],-32} held-out {bags[k].Average(),9:F3}{(labels is null ? "" : $" AUROC {AnomalyDiagnosis.Auroc(bags[k], labels):F4}")}");
        var w = Em(selection);
        var stacked = Pool(heldOut, w);
        Console.WriteLine($"   stack weights {string.Join(" ", w.Select(v => v.ToString("F3")))}; selection {Pool(selection, w).Average():F3}; held-out {stacked.Average():F3}{(labels is null ? "" : $" AUROC {AnomalyDiagnosis.Auroc(stacked, labels):F4}")}");
        // Leave-one-out check of the weights' optimism on the selection rows: each row scored with weights fitted without it.
        int rows = selection[0].Length;
        double loo = 0;
        for (int r = 0; r < rows; r++)
        {
            var rest = selection.Select(s => s.Where((_, j) => j != r).ToArray()).ToList();
            var wr = Em(rest);
            loo += Pool(selection.Select(s => new[] { s[r] }).ToList(), wr)[0];
        }
        Console.WriteLine($"   stack leave-one-out selection {loo / rows:F3}");
    }

    static double[] Em(List<double[]> logProb)
    {
        int k = logProb.Count, rows = logProb[0].Length;
        var w = Enumerable.Repeat(1.0 / k, k).ToArray();
        for (int it = 0; it < 2000; it++)
        {
            var next = new double[k];
            for (int r = 0; r < rows; r++)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < k; c++) max = Math.Max(max, Math.Log(w[c]) + logProb[c][r]);
                double sum = 0;
                for (int c = 0; c < k; c++) sum += Math.Exp(Math.Log(w[c]) + logProb[c][r] - max);
                for (int c = 0; c < k; c++) next[c] += Math.Exp(Math.Log(w[c]) + logProb[c][r] - max) / sum / rows;
            }
            w = next;
        }
        return w;
    }

    static double[] Pool(List<double[]> logProb, double[] w) =>
        Enumerable.Range(0, logProb[0].Length).Select(r =>
        {
            double max = Enumerable.Range(0, w.Length).Max(c => w[c] > 0 ? Math.Log(w[c]) + logProb[c][r] : double.NegativeInfinity);
            return max + Math.Log(Enumerable.Range(0, w.Length).Sum(c => w[c] > 0 ? Math.Exp(Math.Log(w[c]) + logProb[c][r] - max) : 0));
        }).ToArray();
}
