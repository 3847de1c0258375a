using FlowService.Training.Engine;
using FlowService.Training.Observability;

namespace FlowService.Training.Jobs;

/// <summary>
/// Writes an engine's progress into the job store (history truncated on resume, one record per epoch) and
/// reports each epoch to the training log and metrics.
/// </summary>
public sealed class JobProgressObserver(IJobStore jobs, string jobId, string model, int epochs, TrainingTelemetry telemetry) : ITrainingObserver
{
    // The engine trains on a worker thread; the store calls are synchronous underneath, so waiting here is safe.
    public void Resumed(int completedEpochs) => jobs.TruncateHistoryAsync(jobId, completedEpochs).GetAwaiter().GetResult();

    public void EpochFinished(Jobs.EpochRecord epoch)
    {
        jobs.RecordEpochAsync(jobId, epoch).GetAwaiter().GetResult();
        telemetry.EpochCompleted(jobId, model, epoch.Epoch, epochs, epoch.TrainNll, epoch.ValidationNll, epoch.SamplesPerSecond, epoch.Seconds);
    }
}
