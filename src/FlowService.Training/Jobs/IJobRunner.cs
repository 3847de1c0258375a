namespace FlowService.Training.Jobs;

/// <summary>
/// Trains one claimed job to its end: registers a version and completes the job, or records why it
/// failed or that it was cancelled. Must not throw for a job's own failure (bad data, divergence).
/// </summary>
public interface IJobRunner
{
    Task RunAsync(JobRecord job, CancellationToken stoppingToken);
}
