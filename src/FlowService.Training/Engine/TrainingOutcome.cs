namespace FlowService.Training.Engine;

/// <summary>The flow with the best validation NLL seen, and where training stopped.</summary>
public sealed record TrainingOutcome(IDensityFlow Flow, int EpochsRun, int BestEpoch);
