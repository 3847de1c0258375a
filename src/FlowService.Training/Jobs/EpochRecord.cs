namespace FlowService.Training.Jobs;

/// <summary>One finished epoch: mean train NLL, validation NLL (nats per row), throughput and duration.</summary>
public sealed record EpochRecord(int Epoch, double TrainNll, double ValidationNll, double SamplesPerSecond, double Seconds);
