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
/// cross-validation it also prints each candidate's committee of fold models ("bag"), from the fold weights the search saved.
/// Last, a linear pool of all candidates with weights fitted by EM on the selection rows (stacking), with a leave-one-out check
/// of those weights' optimism. Usage: <c>stack SET[:anomaly],...</c> (QUALITY_SEED as for the other modes).
/// </summary>
static class StackingDiagnosis
{
    public static void Run(string entry, TrainingParameters p)
    {
        var suite = SuiteEntry.Load(entry, p);
        var (name, anomaly, set, split, _) = suite;
        int d = set.Columns;
        string folder = Path.Combine(Path.GetTempPath(), $"stack-{name}{(anomaly ? "-anomaly" : "")}-s{p.Seed}");
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);   // a search resumes from its state: start each run afresh
        using var doc = JsonDocument.Parse(Environment.GetEnvironmentVariable("STACK_SPEC") ?? """{"type":"auto"}""");
        var engine = new NormalizingFlowEngine();
        var outcome = engine.Train(new TrainingRun(doc.RootElement, split, p, folder), new Quiet(), CancellationToken.None);
        int n = set.TestRows;
        var single = new float[n];
        outcome.Flow.LogProb(set.Test, n, [], single);
        bool[]? labels = anomaly ? suite.Set.AnomalyLabels : null;

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
                // The refit the search served before the committee: every row, for the folds' mean best epoch.
                int epochs = outcome.Selection!.Candidates[i].BestEpoch;
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
        // Each candidate's committee of fold models, as the search serves its winner's: the fold weights it saved, their
        // densities averaged, with the candidate's ε and the Gaussian of every row.
        var bags = new List<double[]>();
        if (folds >= 2)
            foreach (string bagged in names)
            {
                int i = candidates.ToList().FindIndex(c => c.Name == bagged);
                using var state = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, $"auto-candidate-{i}.json")));
                var members = state.RootElement.GetProperty("foldParameters").EnumerateArray().Select(weights =>
                {
                    var member = NormalizingFlow.Create(FlowSpec.From(candidates[i].Spec), d, 0, p.Seed, normalization, engine.Backend);
                    member.SetParameters(weights.EnumerateArray().Select(e => e.GetSingle()).ToArray());
                    return member;
                }).ToArray();
                var committee = new TrainedFlow(members[0], [], [], new DefensiveMixture(state.RootElement.GetProperty("weight").GetDouble(), gaussianPool), members);
                var served = new float[n];
                committee.LogProb(set.Test, n, [], served);
                bags.Add(served.Select(v => (double)v).ToArray());
            }
        Console.WriteLine($"{entry}: folds {folds}, chosen {outcome.Selection?.Chosen}, single held-out {single.Average(v => (double)v):F3}{(labels is null ? "" : $" AUROC {AnomalyAuroc.Of(single.Select(v => (double)v).ToArray(), labels):F4}")}");
        for (int k = 0; k < names.Count; k++)
            Console.WriteLine($"   {names[k],-36} selection {selection[k].Average(),9:F3} held-out {heldOut[k].Average(),9:F3}{(labels is null ? "" : $" AUROC {AnomalyAuroc.Of(heldOut[k], labels):F4}")}");
        for (int k = 0; k < bags.Count; k++)
            Console.WriteLine($"   bag {names[k],-32} held-out {bags[k].Average(),9:F3}{(labels is null ? "" : $" AUROC {AnomalyAuroc.Of(bags[k], labels):F4}")}");
        var w = Em(selection);
        var stacked = Pool(heldOut, w);
        Console.WriteLine($"   stack weights {string.Join(" ", w.Select(v => v.ToString("F3")))}; selection {Pool(selection, w).Average():F3}; held-out {stacked.Average():F3}{(labels is null ? "" : $" AUROC {AnomalyAuroc.Of(stacked, labels):F4}")}");
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
