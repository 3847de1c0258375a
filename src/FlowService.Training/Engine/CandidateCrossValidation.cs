using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>
/// k-fold cross-validation of one "auto" candidate over every row of the job (training, validation and test parts), for small
/// sets: each fold trains on the other folds with early stopping on its own rows and scores them, so every row
/// gets an out-of-fold log p. Ten-odd validation rows (a 120-row set's 10%) cannot tell candidates apart; a hundred
/// out-of-fold rows can, and the defensive weight ε is chosen on them too. The winner's k fold models are then served as
/// an equally weighted committee (<see cref="TrainedFlow.Members"/>), not refitted on all rows.
/// </summary>
/// <remarks>Each fold trains with its own <see cref="FlowTrainer"/> state in <c>fold-{f}/</c>, so a resumed job continues it.</remarks>
internal sealed class CandidateCrossValidation(Func<FlowSpec, NormalizingFlow> build, Func<DatasetSplit.Part, FullCovarianceGaussian?> fitGaussian, int folds)
{
    /// <param name="RowNll">Per row, the served (defended) out-of-fold NLL.</param>
    /// <param name="Weight">The defensive ε chosen on the out-of-fold rows; null when the data has no defensive Gaussian.</param>
    /// <param name="MeanBestEpoch">The folds' mean best epoch (at least 1).</param>
    /// <param name="FoldParameters">Each fold model's best weights, fold by fold: the committee the search serves if it wins.</param>
    public sealed record Outcome(double[] RowNll, double? Weight, int MeanBestEpoch, int EpochsRun, float[][] FoldParameters);

    public Outcome Run(AutoCandidate candidate, DatasetSplit.Part pool, ITrainingObserver observer, string folder, string fingerprint,
        CancellationToken cancellationToken, long deadline)
    {
        var flowLogProb = new float[pool.Rows];
        var gaussianLogProb = new double[pool.Rows];
        FullCovarianceGaussian? gaussian = null;
        int epochsRun = 0;
        double bestEpochs = 0;
        var foldParameters = new float[folds][];
        for (int f = 0; f < folds; f++)
        {
            var (start, count) = FoldRange(pool.Rows, folds, f);
            var held = Slice(pool, start, count);
            var train = Concat(Slice(pool, 0, start), Slice(pool, start + count, pool.Rows - start - count));
            var flow = build(FlowSpec.From(candidate.Spec));
            var numbered = new OffsetObserver(observer, epochsRun);
            numbered.Resumed(0);
            var result = new FlowTrainer(flow, candidate.Parameters).Train(train, held, numbered, Path.Combine(folder, $"fold-{f}"),
                $"{fingerprint}/fold-{f}", cancellationToken, deadline);
            flow.SetParameters(result.BestParameters);
            foldParameters[f] = result.BestParameters;
            AutoFlowSearch.LogProb(flow, held).CopyTo(flowLogProb, start);
            gaussian = fitGaussian(train);
            gaussian?.LogDensity(held.Features, held.Rows, gaussianLogProb.AsSpan(start, count));
            epochsRun += result.EpochsRun;
            bestEpochs += result.BestEpoch;
        }
        // One ε for the candidate, chosen on all out-of-fold rows, as it will be served (each row's Gaussian is its fold's;
        // the one passed here is only carried, the served mixture takes the Gaussian of all rows).
        var mixture = gaussian is null ? null : DefensiveMixture.Choose(gaussian, flowLogProb, gaussianLogProb);
        var rowNll = new double[pool.Rows];
        for (int r = 0; r < pool.Rows; r++)
            rowNll[r] = -(mixture is null ? flowLogProb[r] : mixture.Combine(flowLogProb[r], gaussianLogProb[r]));
        return new Outcome(rowNll, mixture?.Weight, Math.Max(1, (int)Math.Round(bestEpochs / folds)), epochsRun, foldParameters);
    }

    /// <summary>Per row of <paramref name="pool"/>, the log density of the Gaussian fitted to the other folds (null: the data gets none).</summary>
    public double[]? GaussianOutOfFold(DatasetSplit.Part pool)
    {
        var logProb = new double[pool.Rows];
        for (int f = 0; f < folds; f++)
        {
            var (start, count) = FoldRange(pool.Rows, folds, f);
            var train = Concat(Slice(pool, 0, start), Slice(pool, start + count, pool.Rows - start - count));
            if (fitGaussian(train) is not { } gaussian)
                return null;
            var held = Slice(pool, start, count);
            gaussian.LogDensity(held.Features, held.Rows, logProb.AsSpan(start, count));
        }
        return logProb;
    }

    /// <summary>Fold <paramref name="fold"/>'s rows: contiguous blocks of the (already shuffled) rows, sizes differing by at most one.</summary>
    public static (int Start, int Count) FoldRange(int rows, int folds, int fold)
    {
        int start = (int)((long)rows * fold / folds), end = (int)((long)rows * (fold + 1) / folds);
        return (start, end - start);
    }

    public static DatasetSplit.Part Slice(DatasetSplit.Part part, int start, int count)
    {
        int d = part.Features.Length / Math.Max(1, part.Rows), c = part.Context.Length / Math.Max(1, part.Rows);
        return new DatasetSplit.Part(part.Features.AsSpan(start * d, count * d).ToArray(), part.Context.AsSpan(start * c, count * c).ToArray(), count);
    }

    public static DatasetSplit.Part Concat(DatasetSplit.Part a, DatasetSplit.Part b) =>
        new([.. a.Features, .. b.Features], [.. a.Context, .. b.Context], a.Rows + b.Rows);
}
