using System.Diagnostics;
using System.Text.Json;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Jobs;
using FlowService.Training.Storage;

namespace FlowService.Training.Engine;

/// <summary>
/// The "auto" flow: trains a short list of candidates sized to the data (<see cref="Candidates"/>, simplest
/// first), each with early stopping on the validation rows, within a total time budget, and keeps the
/// simplest one whose served density (flow plus <see cref="DefensiveMixture"/>) has a validation NLL
/// within one standard error of the best (the paired per-row difference's): on a few dozen validation
/// rows the raw minimum picks noise, and the one-standard-error rule picks the model that generalises.
/// Every candidate's result is kept for the version's metadata.
/// </summary>
/// <remarks>
/// Resumable like a single run: each candidate trains with its own <see cref="FlowTrainer"/> state in
/// <c>candidate-{i}/</c>, finished candidates are listed in <c>auto-search.json</c> with their best weights
/// and per-row validation NLLs in <c>auto-candidate-{i}.json</c>, so a resumed job skips what is done. Epoch records are numbered
/// across candidates (candidate i's epoch k is job epoch offset_i + k). The time budget
/// (<c>budgetSeconds</c>) is the one thing that depends on the machine: a candidate that would start
/// after it is skipped, and no epoch starts after it.
/// </remarks>
/// <param name="defend">Given a flow's log p of the validation rows: its defensive mixture (null: served alone) and the
/// served log p of those rows.</param>
/// <param name="fitGaussian">The defensive Gaussian of some rows (null: the data gets none, as conditional data), for the folds
/// of a cross-validated search (<see cref="FoldsFor"/>, <see cref="CandidateCrossValidation"/>).</param>
public sealed class AutoFlowSearch(Func<FlowSpec, NormalizingFlow> build, Func<float[], (DefensiveMixture? Mixture, float[] Served)> defend,
    Func<DatasetSplit.Part, FullCovarianceGaussian?> fitGaussian)
{
    /// <summary>Default total budget for all candidates, seconds.</summary>
    public const int DefaultBudgetSeconds = 900;

    /// <summary>Optimizer steps each candidate gets at least on small sets (epochs are raised to reach them).</summary>
    public const int MinimumSteps = 3000;

    /// <summary>Rows each candidate passes at most (epochs are lowered on large sets): 20 epochs of 1,000,000 rows.</summary>
    public const long MaximumRowPasses = 20_000_000;

    /// <summary>Training rows from which the candidates with conditioner networks (MAF, NSF) are tried on unconditional data.</summary>
    public const int NetworkMinimumRows = 1000;

    /// <summary>
    /// Candidates are chosen by cross-validation when the validation split holds fewer rows than this: on a few dozen rows the
    /// standard error of two candidates' paired NLL difference is most of a nat (0.4-1.2 on digits 0-4's 72 validation rows,
    /// bench/RESULTS.md, issue 11, fifth pass), too much to rank them or pick ε, and the rows it and the test split hold back
    /// are worth more to the model.
    /// </summary>
    public const int CrossValidationMaximumValidationRows = 100;

    /// <summary>
    /// Training cells (rows x columns) up to which a cross-validated choice is affordable: each candidate trains
    /// <see cref="DefaultFolds"/> times. Measured on the real-data suite, breast cancer (363 x 30) takes about 15 s of CPU for
    /// the whole search and digits' anomaly split (574 x 64 = 36,736) about 70 s (bench/RESULTS.md).
    /// </summary>
    public const int CrossValidationMaximumCells = 65_536;

    /// <summary>
    /// Training rows per component of the first mixture-base candidate (<see cref="MixtureComponents"/>): scikit-learn's
    /// cross-validated GaussianMixture picks 2-3 components on the suite's sets of 100-1,500 rows and 16 (of 1-64) on
    /// Fashion-MNIST 7x7's 56,000, where a two-component base left the flow 11 nats per row behind it (RESULTS.md, issue 11).
    /// </summary>
    public const int RowsPerComponent = 2_500;

    /// <summary>
    /// Training rows per component of the diagonal mixture-base candidate (<see cref="DiagonalMixtureComponents"/>): on digits 0-4
    /// (574 training rows) 3, 5, 8, 16, 32, 64 diagonal components scored the job's validation rows at 100.64, 100.45, 99.65,
    /// 99.05, 103.63, 108.53 nats (RESULTS.md, issue 11, fifth pass): the best at about 36 rows a component.
    /// </summary>
    public const int RowsPerDiagonalComponent = 32;

    /// <summary>The most components <see cref="MixtureComponents"/> and <see cref="DiagonalMixtureComponents"/> give (the Fashion-MNIST GMM's choice; a full component costs D² per row, a diagonal one D).</summary>
    public const int MaximumComponents = 16;

    /// <summary>Folds of the cross-validated choice on small sets (scikit-learn's default).</summary>
    public const int DefaultFolds = 5;

    private const string SearchFile = "auto-search.json";
    private const string CandidateFile = "auto-candidate-{0}.json";

    /// <param name="Members">With cross-validation: the winner's fold models, <paramref name="Flow"/> (fold 1's) first, served as an
    /// equally weighted committee (<see cref="TrainedFlow.Members"/>); null otherwise.</param>
    /// <param name="CrossValidated">With cross-validation: the winner's served out-of-fold log p of every row and the out-of-fold
    /// Gaussian's (the committee has trained on every row, each member on all but its fold, so its own scores of them would
    /// flatter it); null otherwise.</param>
    public sealed record Result(NormalizingFlow Flow, DefensiveMixture? Defensive, AutoSelection Selection, int EpochsRun, int BestEpoch,
        CrossValidatedScores? CrossValidated = null, IReadOnlyList<NormalizingFlow>? Members = null);

    /// <summary>
    /// The candidates for <paramref name="trainRows"/> x <paramref name="features"/> data (plus context):
    /// the full-covariance Gaussian, Gaussianization flows at two depths over a standard-normal and over a
    /// Gaussian-mixture base (<see cref="MixtureComponents"/> components for one block, two for two), and masked autoregressive flows
    /// (spline and affine) in front of the Gaussian fit from <see cref="NetworkMinimumRows"/> rows; conditional data
    /// gets only the conditional ones.
    /// Batch size shrinks on small sets and epochs follow <see cref="MinimumSteps"/> / <see cref="MaximumRowPasses"/>.
    /// </summary>
    public static IReadOnlyList<AutoCandidate> Candidates(int trainRows, int features, int contextFeatures, TrainingParameters p)
    {
        int hidden = Math.Min(512, Math.Max(2 * (features + contextFeatures), trainRows < 2_000 ? 32 : trainRows < 50_000 ? 64 : 128));
        var specs = new List<(string Name, string Json, bool Network, bool Early)>();
        if (contextFeatures == 0)
        {
            specs.Add(("gaussian", """{"type":"gaussian"}""", false, false));
            specs.Add(("gaussianization-1", """{"type":"gaussianization","layers":1,"bins":8}""", false, false));
            specs.Add(("gaussianization-2", """{"type":"gaussianization","layers":2,"bins":8}""", false, false));
            // Clustered data (classes): the same flows over a Gaussian-mixture base, the one-block flow's with its starting
            // covariances shrunk toward the pooled one (fewer rows per cluster), the two-block flow's two components unshrunk.
            // The one-block flow's components grow with the rows, as a GMM's K chosen by cross-validation does; its shrinkage
            // is what measured best: 0.6 for two components on the small sets, 0.3 for 16 on Fashion-MNIST 7x7.
            int components = MixtureComponents(trainRows, features);
            string shrinkage = components == 2 ? "0.6" : "0.3";
            // With more than two components (from 10,000 training rows) it is the likely winner and the slowest of the five (K·D² per
            // row), so it trains right after the Gaussian: a 900 s budget on a shared machine must not cut it (RESULTS.md, issue 11).
            specs.Add(("gaussianization-1-mixture", $$$"""{"type":"gaussianization","layers":1,"bins":8,"base":{"components":{{{components}}},"shrinkage":{{{shrinkage}}}}}""", false, components > 2));
            specs.Add(("gaussianization-2-mixture", """{"type":"gaussianization","layers":2,"bins":8,"base":{"components":2}}""", false, false));
            // Many diagonal components: a class-like cluster structure at 2D + 1 parameters a component, where full covariances
            // (D(D+3)/2 each) allow only two or three. On digits 0-4 (574 training rows, 64-D) 16 of them beat the plain flow on
            // validation by 2.6 ± 0.8 nats and rank digits 5-9 at AUROC 0.97 against its 0.94 (RESULTS.md, issue 11, fifth pass).
            int diagonal = DiagonalMixtureComponents(trainRows);
            specs.Add(("gaussianization-1-diagonal-mixture", $$$"""{"type":"gaussianization","layers":1,"bins":8,"base":{"components":{{{diagonal}}},"covariance":"diagonal"}}""", false, false));
        }
        // Conditioner networks overfit a few hundred rows (measured on the real-data suite: they lose to the
        // Gaussianization flows on every set under 1,000 rows), so they join from 1,000 rows, or whenever there is context.
        if ((features >= 2 && trainRows >= NetworkMinimumRows) || contextFeatures > 0)
        {
            specs.Add(("nsf-ar", $$"""{"type":"nsf","variant":"autoregressive","layers":3,"hidden":[{{hidden}},{{hidden}}],"bins":8,"whiten":true,"zeroInit":true}""", true, false));
            specs.Add(("maf", $$"""{"type":"maf","layers":5,"hidden":[{{hidden}},{{hidden}}],"whiten":true,"zeroInit":true}""", true, false));
        }
        int batch = Math.Min(p.BatchSize, Math.Max(16, (int)BitFloor(trainRows / 8)));
        int stepsPerEpoch = (trainRows + batch - 1) / batch;
        int epochs = Math.Max(p.Epochs, (MinimumSteps + stepsPerEpoch - 1) / stepsPerEpoch);
        epochs = (int)Math.Min(epochs, Math.Max(3, MaximumRowPasses / Math.Max(1, trainRows)));
        epochs = Math.Min(epochs, 100_000);
        return specs.Select(s => new AutoCandidate(s.Name, JsonDocument.Parse(s.Json).RootElement.Clone(), p with
        {
            BatchSize = batch,
            Epochs = s.Name == "gaussian" ? Math.Min(epochs, 20) : epochs,
            // A little decoupled weight decay keeps the conditioner networks near the Gaussian start on small sets.
            WeightDecay = s.Network ? Math.Max(p.WeightDecay, 1e-4) : p.WeightDecay,
        }, s.Early)).ToArray();
    }

    /// <summary>The largest power of two at most <paramref name="v"/>; 1 below 1.</summary>
    static long BitFloor(long v) => v < 1 ? 1 : 1L << (63 - (int)long.LeadingZeroCount(v));

    /// <summary>One component per <paramref name="rowsPerComponent"/> training rows, rounded down to a power of two, from 2 to <see cref="MaximumComponents"/>.</summary>
    static int Components(long trainRows, long rowsPerComponent) => (int)Math.Clamp(BitFloor(trainRows / rowsPerComponent), 2, MaximumComponents);

    /// <summary>
    /// Components of the first mixture-base candidate: one per <see cref="RowsPerComponent"/> training rows (and at least D² rows,
    /// so a full covariance's D(D+3)/2 parameters each see two rows or more), rounded down to a power of two as scikit-learn's
    /// grid of K is searched, from 2 to <see cref="MaximumComponents"/>.
    /// </summary>
    public static int MixtureComponents(int trainRows, int features)
    {
        return Components(trainRows, Math.Max(RowsPerComponent, (long)features * features));
    }

    /// <summary>
    /// Components of the diagonal mixture-base candidate: one per <see cref="RowsPerDiagonalComponent"/> training rows, rounded
    /// down to a power of two, from 2 to <see cref="MaximumComponents"/>. A diagonal component's 2D + 1 parameters are trained
    /// through the flow on every row (responsibility-weighted), so the rows bound K, not the columns.
    /// </summary>
    public static int DiagonalMixtureComponents(int trainRows) => Components(trainRows, RowsPerDiagonalComponent);

    /// <summary>
    /// The order the candidates train in: the first (the Gaussian), then those marked <see cref="AutoCandidate.Early"/>, then the
    /// rest as listed. The budget cuts from the end of this order; the choice reads the list's order, so it does not depend on it.
    /// </summary>
    public static int[] TrainingOrder(IReadOnlyList<AutoCandidate> candidates) =>
        Enumerable.Range(0, candidates.Count).OrderBy(i => i == 0 ? 0 : candidates[i].Early ? 1 : 2).ThenBy(i => i).ToArray();

    /// <summary>The candidates an "auto" spec names ("candidates": [specs]) or the defaults for this data.</summary>
    public static IReadOnlyList<AutoCandidate> CandidatesFor(FlowSpec auto, int trainRows, int features, int contextFeatures, TrainingParameters p)
    {
        var defaults = Candidates(trainRows, features, contextFeatures, p);
        var given = auto.GetSpecArray("candidates", 1, 16);
        if (given is null)
            return defaults;
        // Named candidates share the defaults' data-adapted training settings (those of the conditioner networks).
        var settings = defaults[^1].Parameters;
        return given.Select((spec, i) => new AutoCandidate($"candidate-{i}", spec, settings)).ToArray();
    }

    /// <summary>
    /// The "folds" of an "auto" spec: 0 ranks candidates on the validation rows; k of 2 to 10 by k-fold cross-validation over
    /// all rows of the job (training, validation and test parts), serving the winner's k fold models together. By default
    /// <see cref="DefaultFolds"/> on unconditional data whose validation split has fewer than
    /// <see cref="CrossValidationMaximumValidationRows"/> rows and at most <see cref="CrossValidationMaximumCells"/> training cells,
    /// and 0 otherwise; any k falls back to 0 when the non-test rows are fewer than 2k.
    /// </summary>
    public static int FoldsFor(FlowSpec auto, DatasetSplit data)
    {
        int pool = data.Train.Rows + data.Validation.Rows;
        bool small = data.ContextColumns.Count == 0 && data.Validation.Rows < CrossValidationMaximumValidationRows
            && (long)data.Train.Rows * data.FeatureColumns.Count <= CrossValidationMaximumCells && pool >= 10 * DefaultFolds;
        int folds = ReadFolds(auto, small ? DefaultFolds : 0);
        return folds >= 2 && pool >= 2 * folds ? folds : 0;
    }

    /// <summary>The spec's "folds" (0, or 2 to 10), <paramref name="byDefault"/> when absent.</summary>
    public static int ReadFolds(FlowSpec auto, int byDefault)
    {
        int folds = auto.GetInt("folds", byDefault, 0, 10);
        return folds == 1 ? throw new FlowSpecException("folds", "'folds' must be 0 (rank candidates on the validation rows) or 2 to 10 (cross-validate), not 1.") : folds;
    }

    public Result Run(FlowSpec auto, DatasetSplit data, TrainingParameters p, ITrainingObserver observer, string stateFolder,
        Func<FlowSpec, string> fingerprint, CancellationToken cancellationToken)
    {
        int budget = auto.GetInt("budgetSeconds", DefaultBudgetSeconds, 1, 7 * 24 * 3600);
        var candidates = CandidatesFor(auto, data.Train.Rows, data.FeatureColumns.Count, data.ContextColumns.Count, p);
        int folds = FoldsFor(auto, data);
        auto.RejectUnreadFields();
        long deadline = Stopwatch.GetTimestamp() + (long)(budget * (double)Stopwatch.Frequency);
        Directory.CreateDirectory(stateFolder);
        var done = LoadDone(stateFolder);
        int offset = done.Sum(r => r.EpochsRun);

        // Small unconditional sets: candidates are ranked on out-of-fold scores of every row (training, validation and test
        // parts), and the winner's fold models are served together; its out-of-fold scores are then the version's held-out
        // figures. The 10% test part of a 150-row upload is 15 rows: too few to measure anything, and worth more to the model.
        var validator = folds >= 2 ? new CandidateCrossValidation(build, fitGaussian, folds) : null;
        var pool = validator is null ? null : CandidateCrossValidation.Concat(CandidateCrossValidation.Concat(data.Train, data.Validation), data.Test);

        // done lists the candidates in training order; a search resumed from state written in another order keeps that one.
        var order = TrainingOrder(candidates);
        if (done.Where((r, n) => r.Name != candidates[order[n]].Name).Any())
            order = Enumerable.Range(0, candidates.Count).ToArray();
        for (int n = done.Count; n < candidates.Count; n++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int i = order[n];
            var candidate = candidates[i];
            if (Stopwatch.GetTimestamp() > deadline)
            {
                done.Add(new CandidateResult(candidate.Name, candidate.Spec, null, 0, 0, 0, $"the budget of {budget} s was spent"));
                SaveDone(stateFolder, done);
                continue;
            }
            long started = Stopwatch.GetTimestamp();
            var spec = FlowSpec.From(candidate.Spec);
            var numbered = new OffsetObserver(observer, offset);
            CandidateState state;
            int epochsRun, bestEpoch;
            if (validator is not null)
            {
                var validated = validator.Run(candidate, pool!, numbered, Path.Combine(stateFolder, $"candidate-{i}"), fingerprint(spec), cancellationToken, deadline);
                state = new CandidateState([], validated.RowNll, validated.Weight, validated.FoldParameters);
                (epochsRun, bestEpoch) = (validated.EpochsRun, validated.MeanBestEpoch);
            }
            else
            {
                var flow = build(spec);
                numbered.Resumed(0);
                var result = new FlowTrainer(flow, candidate.Parameters).Train(data.Train, data.Validation, numbered,
                    Path.Combine(stateFolder, $"candidate-{i}"), fingerprint(spec), cancellationToken, deadline);
                flow.SetParameters(result.BestParameters);
                state = new CandidateState(result.BestParameters, defend(LogProb(flow, data.Validation)).Served.Select(v => -(double)v).ToArray());
                (epochsRun, bestEpoch) = (result.EpochsRun, result.BestEpoch);
            }
            double nll = state.RowNll.Length == 0 ? double.NaN : state.RowNll.Average();
            SaveCandidate(stateFolder, i, state);
            done.Add(new CandidateResult(candidate.Name, candidate.Spec, double.IsFinite(nll) ? nll : null, epochsRun, bestEpoch,
                Stopwatch.GetElapsedTime(started).TotalSeconds));
            offset += epochsRun;
            SaveDone(stateFolder, done);
        }
        // Back to the list's order (simplest first), which the one-standard-error rule and the version's metadata read.
        var listed = new CandidateResult[candidates.Count];
        for (int n = 0; n < done.Count; n++)
            listed[order[n]] = done[n];
        done = [.. listed];
        var states = Enumerable.Range(0, done.Count).Select(i => done[i].ValidationNll is null ? null : LoadCandidate(stateFolder, i)).ToArray();
        int winner = Choose(states.Select(st => st?.RowNll).ToArray());
        if (winner < 0)
            throw new TrainingDivergedException("No candidate of the \"auto\" flow reached a finite validation NLL; check the data for extreme values or pick a flow type.");
        var chosen = candidates[winner];
        if (validator is not null)
        {
            // The winner's fold models, served as an equally weighted committee rather than refitted on all rows: each is
            // exactly what the out-of-fold scores measured, and log of their mean density is at least the mean of their log
            // densities at every row (Jensen), so the served density does at least as well as they did on average. Measured
            // on the real-data suite, it also scores held-out rows better than the refit did (bench/RESULTS.md, issue 11,
            // seventh pass), and it saves the refit's training.
            var won = states[winner]!;
            // A search begun by a build that refitted the winner kept no fold weights: its finished fold states give them back
            // (each fold resumes at its end), and the job already has their epochs.
            var foldParameters = won.FoldParameters ?? validator.Run(chosen, pool!, SilentObserver.Instance,
                Path.Combine(stateFolder, $"candidate-{winner}"), fingerprint(FlowSpec.From(chosen.Spec)), cancellationToken, deadline).FoldParameters;
            var members = foldParameters.Select(weights =>
            {
                var member = build(FlowSpec.From(chosen.Spec));
                member.SetParameters(weights);
                return member;
            }).ToArray();
            var gaussian = fitGaussian!(pool!);
            var mixture = won.Weight is { } weight && gaussian is not null ? new DefensiveMixture(weight, gaussian) : null;
            var scores = new CrossValidatedScores(folds, won.RowNll.Select(v => (float)-v).ToArray(), validator.GaussianOutOfFold(pool!));
            return new Result(members[0], mixture, new AutoSelection(chosen.Name, chosen.Spec, done, folds),
                offset, done[winner].BestEpoch, scores, members);
        }
        var model = build(FlowSpec.From(chosen.Spec));
        model.SetParameters(states[winner]!.Parameters);
        return new Result(model, defend(LogProb(model, data.Validation)).Mixture, new AutoSelection(chosen.Name, chosen.Spec, done), offset, done[winner].BestEpoch);
    }

    /// <summary>
    /// The one-standard-error rule over per-row validation NLLs (null: skipped or diverged): the first
    /// (simplest) candidate whose mean exceeds the best mean by at most the standard error of their paired
    /// per-row differences. -1 when none has a finite mean.
    /// </summary>
    public static int Choose(IReadOnlyList<double[]?> rowNll)
    {
        int best = -1;
        for (int i = 0; i < rowNll.Count; i++)
            if (rowNll[i] is { Length: > 0 } rows && double.IsFinite(rows.Average()) && (best < 0 || rows.Average() < rowNll[best]!.Average()))
                best = i;
        if (best < 0)
            return -1;
        var reference = rowNll[best]!;
        for (int i = 0; i < best; i++)
        {
            if (rowNll[i] is not { Length: > 0 } rows || !double.IsFinite(rows.Average()))
                continue;
            var difference = rows.Zip(reference, (a, b) => a - b).ToArray();
            double mean = difference.Average();
            double variance = difference.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, difference.Length - 1);
            if (mean <= Math.Sqrt(variance / difference.Length))
                return i;
        }
        return best;
    }

    /// <summary>The flow's log p of each row of <paramref name="part"/>.</summary>
    public static float[] LogProb(NormalizingFlow flow, DatasetSplit.Part part)
    {
        var logProb = new float[part.Rows];
        flow.LogProb(part.Features, part.Rows, part.Context, logProb);
        return logProb;
    }

    /// <summary>A finished candidate: its best weights (none when cross-validated), its per-row served NLLs (out-of-fold when
    /// cross-validated), and for cross-validation the chosen ε and each fold model's best weights.</summary>
    private sealed record CandidateState(float[] Parameters, double[] RowNll, double? Weight = null, float[][]? FoldParameters = null);

    private static List<CandidateResult> LoadDone(string folder)
    {
        string path = Path.Combine(folder, SearchFile);
        return File.Exists(path) ? JsonSerializer.Deserialize<List<CandidateResult>>(File.ReadAllBytes(path), StoreJson.Options) ?? [] : [];
    }

    private static void SaveDone(string folder, List<CandidateResult> done) =>
        AtomicFile.Write(Path.Combine(folder, SearchFile), stream => JsonSerializer.Serialize(stream, done, StoreJson.Options));

    private static CandidateState LoadCandidate(string folder, int index) =>
        JsonSerializer.Deserialize<CandidateState>(File.ReadAllBytes(Path.Combine(folder, string.Format(System.Globalization.CultureInfo.InvariantCulture, CandidateFile, index))), StoreJson.Options)
        ?? throw new InvalidDataException($"The auto search's state of candidate {index} is empty.");

    // Written before the candidate joins the search file, so a listed candidate always has its weights.
    private static void SaveCandidate(string folder, int index, CandidateState state) =>
        AtomicFile.Write(Path.Combine(folder, string.Format(System.Globalization.CultureInfo.InvariantCulture, CandidateFile, index)),
            stream => JsonSerializer.Serialize(stream, state, StoreJson.Options));
}
