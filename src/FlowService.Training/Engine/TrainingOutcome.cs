namespace FlowService.Training.Engine;

/// <summary>
/// The flow with the best validation NLL seen, where training stopped, and, for an "auto" spec,
/// how every candidate did (<see cref="Selection"/>). <see cref="CrossValidated"/>: when the served flow has trained on
/// every row of the upload (an "auto" search that cross-validated: its committee of fold models), each row's out-of-fold
/// log p, which the job reports and calibrates anomaly scores with instead of the flow's own in-sample scores.
/// </summary>
public sealed record TrainingOutcome(IDensityFlow Flow, int EpochsRun, int BestEpoch, AutoSelection? Selection = null, CrossValidatedScores? CrossValidated = null);
