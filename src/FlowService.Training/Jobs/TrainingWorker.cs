using System.Data.Common;
using FlowService.Training.Observability;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FlowService.Training.Jobs;

/// <summary>
/// The background worker: at start, puts jobs left Running by a dead worker back in the queue; then
/// each of <see cref="WorkerOptions.Concurrency"/> loops claims the oldest claimable job (with a lease of
/// <see cref="WorkerOptions.LeaseSeconds"/>), passing over jobs whose owner already has
/// <see cref="WorkerOptions.RunningJobsPerOwner"/> running, and runs it. A job that throws is failed with the exception's
/// message, except when the store itself could not be reached: the job keeps its lease and, once that
/// expires, resumes from its checkpoint on whichever worker claims it. The loop never dies of either; while
/// the store is down it waits a poll interval between attempts. On shutdown the running job stops at its
/// next batch and goes back to the queue, so it resumes from its checkpoint on the next claim.
/// </summary>
public sealed class TrainingWorker(
    IJobStore jobs, IJobRunner runner, WorkerStatus status, IOptions<WorkerOptions> options, TrainingTelemetry telemetry,
    ILogger<TrainingWorker> logger) : BackgroundService
{
    readonly string _workerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var idle = TimeSpan.FromMilliseconds(options.Value.PollIntervalMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                int requeued = await jobs.RequeueAbandonedAsync(stoppingToken);
                if (requeued > 0)
                    logger.LogInformation("Requeued {Count} job(s) left running by a dead worker; they resume from their last checkpoint", requeued);
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "The job store cannot be reached yet; retrying");
                await DelayQuietly(idle, stoppingToken);
            }
        }
        int loops = options.Value.Concurrency;
        await Task.WhenAll(Enumerable.Range(0, loops).Select(i => Task.Run(() => LoopAsync(i, stoppingToken), CancellationToken.None)));
    }

    async Task LoopAsync(int index, CancellationToken stoppingToken)
    {
        status.Started();
        try
        {
            var idle = TimeSpan.FromMilliseconds(options.Value.PollIntervalMilliseconds);
            while (!stoppingToken.IsCancellationRequested)
            {
                status.Beat();
                JobRecord? job = null;
                try
                {
                    job = await jobs.TryClaimAsync($"{_workerId}/{index}", options.Value.Lease, options.Value.RunningJobsPerOwner, stoppingToken);
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
                catch (Exception e) when (IsStoreUnreachable(e))
                {
                    if (job is not null)
                    {
                        logger.LogWarning(e, "Job {JobId} stopped: the job store cannot be reached; it resumes from its checkpoint once its lease expires", job.Id);
                        await ReleaseQuietly(job);
                    }
                    else
                        logger.LogWarning(e, "Claiming a job failed: the job store cannot be reached");
                    await DelayQuietly(idle, stoppingToken);
                }
                catch (Exception e)
                {
                    if (job is not null)
                    {
                        telemetry.JobFailed(job.Id, job.Request.Model, $"Internal error: {e.Message}", e);
                        await FailQuietly(job, $"Internal error: {e.Message}");
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

    /// <summary>A database that is down, restarting or out of reach (its errors say so by IsTransient), not a defect.</summary>
    static bool IsStoreUnreachable(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is DbException { IsTransient: true })
                return true;
        return false;
    }

    async Task FailQuietly(JobRecord job, string message)
    {
        try
        {
            await jobs.FailAsync(job.Id, job.Attempts, message, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not record the failure of job {JobId}", job.Id);
        }
    }

    async Task ReleaseQuietly(JobRecord job)
    {
        try
        {
            await jobs.ReleaseAsync(job.Id, job.Attempts, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Job {JobId} could not be given back to the queue; it becomes claimable when its lease expires", job.Id);
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
