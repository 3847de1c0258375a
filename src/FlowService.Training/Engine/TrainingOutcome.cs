namespace FlowService.Training.Engine;

/// <summary>
/// The flow with the best validation NLL seen, where training stopped, and, for an "auto" spec,
/// how every candidate did (<see cref="Selection"/>).
/// </summary>
public sealed record TrainingOutcome(IDensityFlow Flow, int EpochsRun, int BestEpoch, AutoSelection? Selection = null);
