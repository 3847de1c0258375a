namespace FlowService.Training.Engine;

/// <summary>
/// The held-out evidence of an "auto" search that chose by k-fold cross-validation and serves its winner's fold models, which
/// together trained on every row of the upload (training, validation and test parts, in that order): per row, the served
/// (defended) log p of the winner trained on the other folds, and the log density of the full-covariance Gaussian of those
/// other folds. The served committee has seen every row, so these out-of-fold scores, not its own, are the version's
/// held-out figures.
/// </summary>
/// <param name="Folds">k of the k-fold cross-validation.</param>
/// <param name="LogProb">Per row of the upload, the winner's out-of-fold served log p.</param>
/// <param name="GaussianLogProb">Per row, the out-of-fold Gaussian's log density; null where the data gets no defensive Gaussian.</param>
public sealed record CrossValidatedScores(int Folds, float[] LogProb, double[]? GaussianLogProb)
{
    /// <summary>The rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> of <see cref="LogProb"/>.</summary>
    public float[] Part(int start, int count) => LogProb.AsSpan(start, count).ToArray();
}
