using FlowService.Training.Jobs;
using FlowService.Training.Observability;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Observability;

/// <summary>
/// Reads the job counts by state from the job store before each scrape, so flowservice_training_jobs{state}
/// reports the queue as every replica sees it (every state, zeros included), not only this process's jobs.
/// </summary>
public sealed class JobStateScrapeHook(IServiceProvider services, TrainingMetrics metrics) : IMetricsScrapeHook
{
    public async Task BeforeScrapeAsync(CancellationToken cancellationToken)
    {
        // Optional: a host without a job store (a bare test host) simply has no jobs gauge values.
        if (services.GetService<IJobStore>() is not { } jobs) return;
        var counts = await jobs.CountByStateAsync(cancellationToken);
        metrics.SetJobCounts(Enum.GetValues<JobState>().ToDictionary(
            s => s.ToString().ToLowerInvariant(), s => counts.TryGetValue(s, out var n) ? n : 0));
    }
}
