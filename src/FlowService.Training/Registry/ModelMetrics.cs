namespace FlowService.Training.Registry;

/// <summary>
/// Mean NLL (nats per row) of the best weights on each split, and where training stopped. A reverse-KL fit has
/// no dataset: its NLLs are -E_q[log q] on the flow's own samples (the entropy of q; TrainRows and
/// ValidationRows count those samples) and <see cref="Target"/> holds log Ẑ and the fit's quality.
/// </summary>
public sealed record ModelMetrics(double TrainNll, double ValidationNll, double? TestNll, int EpochsRun, int BestEpoch, int TrainRows, int ValidationRows, int TestRows,
    TargetFitMetrics? Target = null);
