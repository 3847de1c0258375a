using FlowService.Training.Engine;
using FlowService.Training.Observability;

namespace FlowService.Training.Jobs;

/// <summary>
/// Writes an engine's progress into the job store (history truncated on resume, one record per epoch) and
/// reports each epoch to the training log and metrics. The writes are fenced by the lease: when the store
/// refuses one (another worker holds the job now), training stops with <see cref="JobLeaseLostException"/>.
/// </summary>
public sealed class JobProgressObserver(IJobStore jobs, JobLease lease, string model, int epochs, TrainingTelemetry telemetry) : ITrainingObserver
{
    // The engine trains on a worker thread of its own, so waiting for the store here blocks no request.
    public void Resumed(int completedEpochs)
    {
        if (!jobs.TruncateHistoryAsync(lease.JobId, lease.Attempt, completedEpochs).GetAwaiter().GetResult())
            throw lease.MarkLost();
    }

    public void EpochFinished(Jobs.EpochRecord epoch)
    {
        if (!jobs.RecordEpochAsync(lease.JobId, lease.Attempt, epoch).GetAwaiter().GetResult())
            throw lease.MarkLost();
        telemetry.EpochCompleted(lease.JobId, model, epoch.Epoch, epochs, epoch.TrainNll, epoch.ValidationNll, epoch.SamplesPerSecond, epoch.Seconds);
    }
}
