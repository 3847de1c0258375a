using FlowService.Training.Engine;

namespace FlowService.Training.Registry;

/// <summary>
/// Mean NLL (nats per row) of the best weights on each split and where training stopped; beside them the
/// NLL of the full-covariance Gaussian fitted to the same training rows (has the flow earned its place?),
/// the weight of the defensive Gaussian mixed into the served density, the "auto" search's candidates,
/// and warnings (for example a flow that does not beat the Gaussian). A reverse-KL fit has no dataset: its
/// NLLs are -E_q[log q] on the flow's own samples (the entropy of q; TrainRows and ValidationRows count those
/// samples) and <see cref="Target"/> holds log Ẑ and the fit's quality. When an "auto" search chose by cross-validation
/// and serves the winner's fold models as a committee, <see cref="Members"/> counts them, <see cref="HeldOut"/> says so, the
/// validation and test figures are out-of-fold scores of those parts, and <see cref="CrossValidatedNll"/> /
/// <see cref="GaussianCrossValidatedNll"/> cover all rows. The optional fields are null for versions registered before they
/// existed, and where they do not apply.
/// </summary>
public sealed record ModelMetrics(
    double TrainNll, double ValidationNll, double? TestNll, int EpochsRun, int BestEpoch, int TrainRows, int ValidationRows, int TestRows,
    TargetFitMetrics? Target = null, double? GaussianValidationNll = null, double? GaussianTestNll = null, double? DefensiveWeight = null,
    AutoSelection? Selection = null, IReadOnlyList<string>? Warnings = null, double? CrossValidatedNll = null,
    double? GaussianCrossValidatedNll = null, string? HeldOut = null, int? Members = null);
