using FlowService.Training.Jobs;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlowService.Api.Health;

/// <summary>
/// The training worker loop is alive when this process runs one; a process that runs none is healthy here. A worker
/// that has not reached its loops yet is healthy too ("Starting."): requests do not wait for it, and a store it cannot
/// reach fails the storage check instead.
/// </summary>
public sealed class WorkerHealthCheck(WorkerStatus worker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!worker.Expected ? HealthCheckResult.Healthy("Not run by this process.")
            : worker.IsRunning ? HealthCheckResult.Healthy("Running.")
            : worker.IsStarting ? HealthCheckResult.Healthy("Starting.")
            : new HealthCheckResult(context.Registration.FailureStatus, "The training worker loop has stopped."));
}
