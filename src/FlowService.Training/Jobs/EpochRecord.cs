using FlowService.Model.Targets;

namespace FlowService.Training.Jobs;

/// <summary>
/// One finished epoch: mean train NLL, validation NLL (nats per row), throughput and duration. A reverse-KL
/// fit (a job with a target) reports its mean training loss E_q[log q - log p̃] as <see cref="TrainNll"/>, the
/// same estimate on the fixed evaluation noise as <see cref="ValidationNll"/>, and the evaluation's
/// <see cref="Importance"/> statistics (effective sample size, log Ẑ and its standard error).
/// </summary>
public sealed record EpochRecord(int Epoch, double TrainNll, double ValidationNll, double SamplesPerSecond, double Seconds, ImportanceStatistics? Importance = null);
