using System.Text.Json;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Engine;

/// <summary>
/// The "auto" flow: candidates sized to the data, the one-standard-error choice, every candidate's result in
/// the outcome, a checkpoint that rebuilds the chosen flow, and a resumed search that ends as an uninterrupted one.
/// </summary>
public sealed class AutoFlowSearchTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Candidates_scale_with_the_data()
    {
        var p = new TrainingParameters();
        var small = AutoFlowSearch.Candidates(100, 4, 0, p);
        Assert.Equal(["gaussian", "gaussianization-1", "gaussianization-2", "gaussianization-1-mixture", "gaussianization-2-mixture",
            "gaussianization-1-diagonal-mixture"], small.Select(c => c.Name));
        Assert.All(small, c => Assert.Equal(16, c.Parameters.BatchSize));
        // 100 rows in batches of 16 are 7 steps an epoch: epochs rise until every candidate but the Gaussian gets 3,000 steps.
        Assert.Equal(429, small[1].Parameters.Epochs);

        var large = AutoFlowSearch.Candidates(1_000_000, 20, 0, p);
        Assert.Equal(["gaussian", "gaussianization-1", "gaussianization-2", "gaussianization-1-mixture", "gaussianization-2-mixture",
            "gaussianization-1-diagonal-mixture", "nsf-ar", "maf"], large.Select(c => c.Name));
        Assert.All(large, c => Assert.Equal(256, c.Parameters.BatchSize));
        Assert.Equal(20, large[6].Parameters.Epochs);
        Assert.Contains("\"hidden\":[128,128]", large[6].Spec.GetRawText());
        Assert.Equal(1e-4, large[7].Parameters.WeightDecay);

        var conditional = AutoFlowSearch.Candidates(50, 3, 2, p);
        Assert.Equal(["nsf-ar", "maf"], conditional.Select(c => c.Name));

        // The one-block mixture base's components follow the rows: two on small sets, 16 on a million rows.
        Assert.Equal(2, small[3].Spec.GetProperty("base").GetProperty("components").GetInt32());
        Assert.Equal(0.6, small[3].Spec.GetProperty("base").GetProperty("shrinkage").GetDouble());
        Assert.Equal(16, large[3].Spec.GetProperty("base").GetProperty("components").GetInt32());
        Assert.Equal(0.3, large[3].Spec.GetProperty("base").GetProperty("shrinkage").GetDouble());
        Assert.Equal(2, large[4].Spec.GetProperty("base").GetProperty("components").GetInt32());
        // The diagonal mixture base: its components follow the rows too (one per 32), 2 on iris' 100 rows, 16 from 512.
        Assert.Equal("diagonal", small[5].Spec.GetProperty("base").GetProperty("covariance").GetString());
        Assert.Equal(2, small[5].Spec.GetProperty("base").GetProperty("components").GetInt32());
        Assert.Equal(16, large[5].Spec.GetProperty("base").GetProperty("components").GetInt32());

        // Where it has more than two components, the mixture-base candidate trains right after the Gaussian, so the time
        // budget cuts the slower network candidates rather than it; the list (the choice's order) is unchanged.
        Assert.Equal([0, 1, 2, 3, 4, 5], AutoFlowSearch.TrainingOrder(small));
        Assert.Equal([0, 3, 1, 2, 4, 5, 6, 7], AutoFlowSearch.TrainingOrder(large));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], AutoFlowSearch.TrainingOrder(AutoFlowSearch.Candidates(8_000, 10, 0, p)));
    }

    [Theory]
    [InlineData(96, 4, 2)]            // iris' job
    [InlineData(8_000, 10, 2)]        // the 10,000 x 10 timing job: below 5,000 rows per pair of components
    [InlineData(10_000, 10, 4)]
    [InlineData(44_800, 49, 16)]      // Fashion-MNIST 7x7: scikit-learn's cross-validated GMM takes 16
    [InlineData(44_800, 100, 4)]      // wide rows: at least D² rows per full covariance
    [InlineData(1_000_000, 20, 16)]
    public void Mixture_components_grow_with_the_rows_in_powers_of_two(int rows, int features, int expected) =>
        Assert.Equal(expected, AutoFlowSearch.MixtureComponents(rows, features));

    [Theory]
    [InlineData(96, 2)]               // iris' job
    [InlineData(574, 16)]             // digits 0-4: 16 diagonal components measured best of 3-64 on validation
    [InlineData(1_000_000, 16)]
    [InlineData(200, 4)]
    public void Diagonal_mixture_components_grow_with_the_rows_in_powers_of_two(int rows, int expected) =>
        Assert.Equal(expected, AutoFlowSearch.DiagonalMixtureComponents(rows));

    [Fact]
    public void Choose_keeps_the_simplest_candidate_within_one_standard_error_of_the_best()
    {
        double[] simple = [1.0, 2.0, 1.5, 1.2, 0.9, 1.1];
        double[] better = simple.Select((v, i) => v - (i % 2 == 0 ? 0.40 : -0.30)).ToArray();   // mean gain 0.05, standard error 0.16
        double[] clearlyBetter = simple.Select(v => v - 0.5).ToArray();                         // gain 0.5 on every row
        Assert.Equal(0, AutoFlowSearch.Choose([simple, better]));
        Assert.Equal(1, AutoFlowSearch.Choose([simple, clearlyBetter]));
        Assert.Equal(1, AutoFlowSearch.Choose([null, simple, [double.NaN]]));
        Assert.Equal(-1, AutoFlowSearch.Choose([null, [double.PositiveInfinity]]));
    }

    [Fact]
    public void An_auto_job_records_every_candidate_and_its_checkpoint_rebuilds_the_chosen_flow()
    {
        var split = Split(600);
        var engine = new NormalizingFlowEngine();
        var spec = JsonDocument.Parse("""{"type":"auto","folds":0,"candidates":[{"type":"gaussian"},{"type":"gaussianization","layers":1,"bins":4}]}""").RootElement;
        var outcome = engine.Train(new TrainingRun(spec, split, new TrainingParameters { Epochs = 5 }, Path.Combine(_root, "state")),
            new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);

        var selection = Assert.IsType<AutoSelection>(outcome.Selection);
        Assert.Null(selection.Folds);
        Assert.Null(outcome.CrossValidated);
        Assert.Equal(2, selection.Candidates.Count);
        Assert.All(selection.Candidates, c => Assert.True(c.ValidationNll is { } v && double.IsFinite(v) && c.EpochsRun > 0 && c.Skipped is null));
        var trained = Assert.IsType<TrainedFlow>(outcome.Flow);
        Assert.Equal(selection.ChosenSpec.GetProperty("type").GetString(), trained.Flow.Spec.Type);
        Assert.NotNull(trained.Defensive);

        string folder = Path.Combine(_root, "checkpoint");
        engine.Save(outcome.Flow, spec, folder);
        var loaded = engine.Load(folder);
        var expected = new float[split.Test.Rows];
        var actual = new float[split.Test.Rows];
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], expected);
        loaded.LogProb(split.Test.Features, split.Test.Rows, [], actual);
        Assert.Equal(expected, actual);
        Assert.Equal(trained.Defensive!.Weight, Assert.IsType<TrainedFlow>(loaded).Defensive!.Weight);
    }

    [Fact]
    public void An_interrupted_auto_search_resumes_and_ends_bit_identical_to_an_uninterrupted_one()
    {
        var split = Split(400);
        var spec = JsonDocument.Parse("""{"type":"auto","folds":0,"candidates":[{"type":"gaussianization","layers":1,"bins":4},{"type":"maf","layers":2,"hidden":[8],"whiten":true,"zeroInit":true}]}""").RootElement;
        var parameters = new TrainingParameters { Epochs = 6, Patience = 100 };
        var engine = new NormalizingFlowEngine();
        var reference = engine.Train(new TrainingRun(spec, split, parameters, Path.Combine(_root, "reference")), new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);

        // Stop in the first candidate's ninth epoch, then run again on the same state folder.
        using var cancel = new CancellationTokenSource();
        var interrupted = new NormalizingFlowEngineTests.Recorder { OnEpoch = e => { if (e.Epoch == 9) cancel.Cancel(); } };
        string state = Path.Combine(_root, "resumed");
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Train(new TrainingRun(spec, split, parameters, state), interrupted, cancel.Token));
        var resumed = new NormalizingFlowEngineTests.Recorder();
        var outcome = engine.Train(new TrainingRun(spec, split, parameters, state), resumed, CancellationToken.None);

        // The search numbers epochs across candidates: the first resumes after its ninth, the second starts after the first's last.
        int firstEpochs = reference.Selection!.Candidates[0].EpochsRun;
        Assert.Equal([0, 9, firstEpochs], resumed.ResumedCalls);
        Assert.Equal(Enumerable.Range(10, resumed.Epochs.Count), resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal(reference.Selection!.Chosen, outcome.Selection!.Chosen);
        Assert.Equal(reference.Selection.Candidates.Select(c => c.ValidationNll), outcome.Selection.Candidates.Select(c => c.ValidationNll));
        var a = new float[split.Test.Rows];
        var b = new float[split.Test.Rows];
        reference.Flow.LogProb(split.Test.Features, split.Test.Rows, [], a);
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Small_unconditional_sets_cross_validate_by_default_and_folds_can_be_set()
    {
        FlowSpec Auto(string json) => FlowSpec.Parse(json);
        // 480 training rows x 3 columns: small.
        Assert.Equal(AutoFlowSearch.DefaultFolds, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto"}"""), Split(600)));
        Assert.Equal(0, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto","folds":0}"""), Split(600)));
        Assert.Equal(3, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto","folds":3}"""), Split(600)));
        // 99 validation rows are too few to rank candidates; 100 (and the 1,000 of 10,000 rows) rank them.
        Assert.Equal(AutoFlowSearch.DefaultFolds, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto"}"""), Split(990)));
        Assert.Equal(0, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto"}"""), Split(1_000)));
        Assert.Equal(0, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto"}"""), Split(10_000)));
        // 80 training rows x 1,000 columns = 80,000 cells: too costly to train five times by default.
        var wide = DatasetSplit.Create(new NumericTable(Enumerable.Range(0, 1_000).Select(j => $"c{j}").ToArray(), 100,
            Enumerable.Range(0, 100_000).Select(i => (double)(i % 7)).ToArray()), [], 0.1, 0.1, seed: 2);
        Assert.Equal(0, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto"}"""), wide));
        // 16 non-test rows cannot make 10 folds of two rows: the validation rows decide.
        Assert.Equal(0, AutoFlowSearch.FoldsFor(Auto("""{"type":"auto","folds":10}"""), Split(20)));
        var engine = new NormalizingFlowEngine();
        Assert.Equal("flow.folds", engine.Validate(JsonDocument.Parse("""{"type":"auto","folds":1}""").RootElement, 3, 0)?.Field);
        Assert.Equal("flow.folds", engine.Validate(JsonDocument.Parse("""{"type":"auto","folds":11}""").RootElement, 3, 0)?.Field);
        Assert.Null(engine.Validate(JsonDocument.Parse("""{"type":"auto","folds":5}""").RootElement, 3, 0));
    }

    [Fact]
    public void Fold_ranges_cover_every_row_once()
    {
        foreach (int rows in new[] { 10, 11, 108, 577 })
            foreach (int folds in new[] { 2, 5, 10 })
            {
                var ranges = Enumerable.Range(0, folds).Select(f => CandidateCrossValidation.FoldRange(rows, folds, f)).ToArray();
                Assert.Equal(0, ranges[0].Start);
                for (int f = 1; f < folds; f++)
                    Assert.Equal(ranges[f - 1].Start + ranges[f - 1].Count, ranges[f].Start);
                Assert.Equal(rows, ranges.Sum(r => r.Count));
                Assert.True(ranges.Max(r => r.Count) - ranges.Min(r => r.Count) <= 1);
            }
    }

    [Fact]
    public void A_cross_validated_search_scores_candidates_out_of_fold_and_serves_the_winners_fold_models_as_a_committee()
    {
        var split = Split(300);
        var engine = new NormalizingFlowEngine();
        var spec = JsonDocument.Parse("""{"type":"auto","candidates":[{"type":"gaussian"},{"type":"gaussianization","layers":1,"bins":4}]}""").RootElement;
        var outcome = engine.Train(new TrainingRun(spec, split, new TrainingParameters { Epochs = 8 }, Path.Combine(_root, "cv")),
            new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);

        var selection = Assert.IsType<AutoSelection>(outcome.Selection);
        Assert.Equal(AutoFlowSearch.DefaultFolds, selection.Folds);
        Assert.All(selection.Candidates, c => Assert.True(c.ValidationNll is { } v && double.IsFinite(v) && c.EpochsRun > 0));
        // No refit: the job's epochs are the folds' of every candidate.
        Assert.Equal(selection.Candidates.Sum(c => c.EpochsRun), outcome.EpochsRun);
        // Every row (training, validation, test) comes back with its out-of-fold score for the job's metrics and calibration,
        // and the test rows' are not the served committee's own (each member but one trained on them).
        var scores = Assert.IsType<CrossValidatedScores>(outcome.CrossValidated);
        Assert.Equal(AutoFlowSearch.DefaultFolds, scores.Folds);
        Assert.Equal(split.Train.Rows + split.Validation.Rows + split.Test.Rows, scores.LogProb.Length);
        Assert.All(scores.LogProb, v => Assert.True(float.IsFinite(v)));
        var outOfFoldTest = scores.Part(split.Train.Rows + split.Validation.Rows, split.Test.Rows);
        var inSample = new float[split.Test.Rows];
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], inSample);
        Assert.NotEqual(inSample, outOfFoldTest);
        // The chosen candidate's out-of-fold NLL is what the search recorded for it.
        Assert.Equal(selection.Candidates.Single(c => c.Name == selection.Chosen).ValidationNll!.Value, -scores.LogProb.Average(v => (double)v), 4);

        // The served flows are the winner's fold models in fold order: member f, with the chosen ε and the Gaussian of the
        // other folds, scores fold f's rows exactly as the out-of-fold scores say.
        var trained = Assert.IsType<TrainedFlow>(outcome.Flow);
        Assert.Equal(AutoFlowSearch.DefaultFolds, trained.Members.Count);
        Assert.Same(trained.Flow, trained.Members[0]);
        Assert.All(trained.Members, m => Assert.Equal(selection.ChosenSpec.GetProperty("type").GetString(), m.Spec.Type));
        var all = CandidateCrossValidation.Concat(CandidateCrossValidation.Concat(split.Train, split.Validation), split.Test);
        for (int f = 0; f < trained.Members.Count; f++)
        {
            var (start, count) = CandidateCrossValidation.FoldRange(all.Rows, trained.Members.Count, f);
            var held = CandidateCrossValidation.Slice(all, start, count);
            var rest = CandidateCrossValidation.Concat(CandidateCrossValidation.Slice(all, 0, start), CandidateCrossValidation.Slice(all, start + count, all.Rows - start - count));
            var foldGaussian = FullCovarianceGaussian.Fit(rest.Features, 3);
            var flowLogProb = new float[count];
            trained.Members[f].LogProb(held.Features, count, [], flowLogProb);
            var gaussianLogProb = new double[count];
            foldGaussian.LogDensity(held.Features, count, gaussianLogProb);
            var mixture = new DefensiveMixture(trained.Defensive!.Weight, foldGaussian);
            for (int r = 0; r < count; r++)
                Assert.Equal(scores.LogProb[start + r], mixture.Combine(flowLogProb[r], gaussianLogProb[r]), 4);
        }
        // The out-of-fold Gaussian of a test row is the one of the other folds, not of all rows.
        var gaussianScores = Assert.IsType<double[]>(scores.GaussianLogProb);
        var served = new double[all.Rows];
        trained.Defensive!.Component.LogDensity(all.Features, all.Rows, served);
        Assert.True(gaussianScores.Average() < served.Average(), "out-of-fold Gaussian scores are below the in-sample ones");
        // The served defensive Gaussian is the one of every row, test part included.
        for (int j = 0; j < 3; j++)
        {
            double allMean = Enumerable.Range(0, all.Rows).Average(r => (double)all.Features[r * 3 + j]);
            double nonTestMean = Enumerable.Range(0, split.Train.Rows + split.Validation.Rows).Average(r => (double)all.Features[r * 3 + j]);
            Assert.Equal(allMean, ((FullCovarianceGaussian)trained.Defensive!.Component).Mean[j], 4);
            Assert.NotEqual(nonTestMean, ((FullCovarianceGaussian)trained.Defensive!.Component).Mean[j], 4);
        }

        // The checkpoint holds every member (format 2, "members": 5) and rebuilds the same density and latent codes.
        string folder = Path.Combine(_root, "committee-checkpoint");
        engine.Save(outcome.Flow, spec, folder);
        using (var info = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "model.json"))))
        {
            Assert.Equal(2, info.RootElement.GetProperty("formatVersion").GetInt32());
            Assert.Equal(AutoFlowSearch.DefaultFolds, info.RootElement.GetProperty("members").GetInt32());
        }
        var loaded = Assert.IsType<TrainedFlow>(engine.Load(folder));
        Assert.Equal(trained.Members.Count, loaded.Members.Count);
        var reloaded = new float[split.Test.Rows];
        loaded.LogProb(split.Test.Features, split.Test.Rows, [], reloaded);
        Assert.Equal(inSample, reloaded);
        var (z, zLoaded) = (new float[split.Test.Rows * 3], new float[split.Test.Rows * 3]);
        var (logDet, logDetLoaded) = (new float[split.Test.Rows], new float[split.Test.Rows]);
        trained.Encode(split.Test.Features, split.Test.Rows, [], z, logDet);
        loaded.Encode(split.Test.Features, split.Test.Rows, [], zLoaded, logDetLoaded);
        Assert.Equal(z, zLoaded);
    }

    [Fact]
    public void An_interrupted_cross_validated_search_resumes_and_ends_bit_identical_to_an_uninterrupted_one()
    {
        var split = Split(200);
        var spec = JsonDocument.Parse("""{"type":"auto","folds":3,"candidates":[{"type":"gaussianization","layers":1,"bins":4},{"type":"gaussian"}]}""").RootElement;
        var parameters = new TrainingParameters { Epochs = 6, Patience = 100 };
        var engine = new NormalizingFlowEngine();
        var reference = engine.Train(new TrainingRun(spec, split, parameters, Path.Combine(_root, "reference")), new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);

        // Stop in the first candidate's second fold (epochs 7-12), then run again on the same state folder.
        using var cancel = new CancellationTokenSource();
        var interrupted = new NormalizingFlowEngineTests.Recorder { OnEpoch = e => { if (e.Epoch == 9) cancel.Cancel(); } };
        string state = Path.Combine(_root, "resumed");
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Train(new TrainingRun(spec, split, parameters, state), interrupted, cancel.Token));
        var outcome = engine.Train(new TrainingRun(spec, split, parameters, state), new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);

        Assert.Equal(reference.Selection!.Chosen, outcome.Selection!.Chosen);
        Assert.Equal(reference.Selection.Candidates.Select(c => c.ValidationNll), outcome.Selection.Candidates.Select(c => c.ValidationNll));
        Assert.Equal(reference.CrossValidated!.LogProb, outcome.CrossValidated!.LogProb);
        var a = new float[split.Test.Rows];
        var b = new float[split.Test.Rows];
        reference.Flow.LogProb(split.Test.Features, split.Test.Rows, [], a);
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_cross_validated_search_finished_by_a_build_that_kept_no_fold_weights_serves_the_same_committee()
    {
        // A search whose candidates all finished under a build that refitted the winner: their saved state has no fold weights.
        var split = Split(200);
        var spec = JsonDocument.Parse("""{"type":"auto","folds":3,"candidates":[{"type":"gaussian"},{"type":"gaussianization","layers":1,"bins":4}]}""").RootElement;
        var parameters = new TrainingParameters { Epochs = 6, Patience = 100 };
        var engine = new NormalizingFlowEngine();
        string state = Path.Combine(_root, "older");
        var reference = engine.Train(new TrainingRun(spec, split, parameters, state), new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);
        foreach (var file in Directory.GetFiles(state, "auto-candidate-*.json"))
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            Assert.True(node.Remove("foldParameters"));
            File.WriteAllText(file, node.ToJsonString());
        }

        var outcome = engine.Train(new TrainingRun(spec, split, parameters, state), new NormalizingFlowEngineTests.Recorder(), CancellationToken.None);
        // The winner's fold states give its fold weights back: the same committee.
        Assert.Equal(3, Assert.IsType<TrainedFlow>(outcome.Flow).Members.Count);
        var (a, b) = (new float[split.Test.Rows], new float[split.Test.Rows]);
        reference.Flow.LogProb(split.Test.Features, split.Test.Rows, [], a);
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], b);
        Assert.Equal(a, b);
    }

    /// <summary>A skewed, correlated 3-D set: x0 ~ N(0,1), x1 = exp(x0/2) + noise, x2 = x0 - x1 + noise.</summary>
    static DatasetSplit Split(int rows)
    {
        var random = new Random(8);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = new double[rows * 3];
        for (int r = 0; r < rows; r++)
        {
            double a = Normal(), b = Math.Exp(a / 2) + 0.2 * Normal();
            (values[3 * r], values[3 * r + 1], values[3 * r + 2]) = (a, b, a - b + 0.3 * Normal());
        }
        return DatasetSplit.Create(new NumericTable(["a", "b", "c"], rows, values), [], 0.1, 0.1, seed: 2);
    }
}
