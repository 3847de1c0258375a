using FlowService.Training.Observability;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FlowService.Training.Jobs;

/// <summary>
/// The background worker: at start, puts jobs left Running by a dead process back in the queue; then
/// each of <see cref="WorkerOptions.Concurrency"/> loops claims the oldest queued job and runs it.
/// A job that throws is failed with the exception's message; the loop itself never dies of it.
/// On shutdown the running job stops at its next batch and stays Running, so it resumes at the next start.
/// </summary>
public sealed class TrainingWorker(
    IJobStore jobs, IJobRunner runner, WorkerStatus status, IOptions<WorkerOptions> options, TrainingTelemetry telemetry,
    ILogger<TrainingWorker> logger) : BackgroundService
{
    readonly string _workerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        int requeued = await jobs.RequeueAbandonedAsync(stoppingToken);
        if (requeued > 0)
            logger.LogInformation("Requeued {Count} job(s) left running by a previous process; they resume from their last checkpoint", requeued);
        int loops = Math.Max(1, options.Value.Concurrency);
        await Task.WhenAll(Enumerable.Range(0, loops).Select(i => Task.Run(() => LoopAsync(i, stoppingToken), CancellationToken.None)));
    }

    async Task LoopAsync(int index, CancellationToken stoppingToken)
    {
        status.Started();
        try
        {
            var idle = TimeSpan.FromMilliseconds(Math.Max(10, options.Value.PollIntervalMilliseconds));
            while (!stoppingToken.IsCancellationRequested)
            {
                status.Beat();
                JobRecord? job = null;
                try
                {
                    job = await jobs.TryClaimAsync($"{_workerId}/{index}", stoppingToken);
                    if (job is null)
                    {
                        await Task.Delay(idle, stoppingToken);
                        continue;
                    }
                    logger.LogInformation("Job {JobId} for model {Model} claimed (attempt {Attempt})", job.Id, job.Request.Model, job.Attempts);
                    await runner.RunAsync(job, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    if (job is not null)
                    {
                        telemetry.JobFailed(job.Id, job.Request.Model, $"Internal error: {e.Message}", e);
                        await FailQuietly(job.Id, $"Internal error: {e.Message}");
                    }
                    else
                    {
                        logger.LogError(e, "Claiming a job failed with an unexpected error");
                        await DelayQuietly(idle, stoppingToken);
                    }
                }
            }
        }
        finally
        {
            status.Stopped();
        }
    }

    async Task FailQuietly(string jobId, string message)
    {
        try
        {
            await jobs.FailAsync(jobId, message, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not record the failure of job {JobId}", jobId);
        }
    }

    static async Task DelayQuietly(TimeSpan delay, CancellationToken token)
    {
        try
        {
            await Task.Delay(delay, token);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
