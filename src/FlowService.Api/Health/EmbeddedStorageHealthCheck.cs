using FlowService.Training.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlowService.Api.Health;

/// <summary>The embedded SQLite store answers (PostgreSQL is checked by AspNetCore.HealthChecks.NpgSql instead).</summary>
public sealed class EmbeddedStorageHealthCheck(IStorageProbe storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(storage.IsReachable() ? HealthCheckResult.Healthy()
            : new HealthCheckResult(context.Registration.FailureStatus, "The SQLite database in the data folder cannot be opened."));
}
