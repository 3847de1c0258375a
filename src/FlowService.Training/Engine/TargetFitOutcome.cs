using FlowService.Training.Registry;

namespace FlowService.Training.Engine;

/// <summary>
/// The fitted flow with the lowest evaluation reverse KL, where training stopped, the final measurement
/// (<see cref="Fit"/>) and log q of the final samples (their mean is -<see cref="ModelMetrics.TrainNll"/>; they
/// calibrate the version's anomaly quantiles).
/// </summary>
public sealed record TargetFitOutcome(IDensityFlow Flow, int EpochsRun, int BestEpoch, TargetFitMetrics Fit, float[] SampleLogDensity);
