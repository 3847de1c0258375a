namespace FlowService.Training.Registry;

/// <summary>Mean NLL (nats per row) of the best weights on each split, and where training stopped.</summary>
public sealed record ModelMetrics(double TrainNll, double ValidationNll, double? TestNll, int EpochsRun, int BestEpoch, int TrainRows, int ValidationRows, int TestRows);
