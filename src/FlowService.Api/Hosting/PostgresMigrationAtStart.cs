using System.Data.Common;
using FlowService.Training.Storage;

namespace FlowService.Api.Hosting;

/// <summary>
/// Brings the PostgreSQL schema up to date while the host starts, so a new replica's first request does
/// not pay for it. A database that cannot be reached yet does not stop the process: readiness reports it,
/// requests get 503 problems, and the migration runs on the first use once it is back.
/// </summary>
internal sealed class PostgresMigrationAtStart(PostgresDatabase database, ILogger<PostgresMigrationAtStart> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await database.MigrateAsync(cancellationToken);
            logger.LogInformation("PostgreSQL schema at version {Version}", await database.SchemaVersionAsync(cancellationToken));
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            logger.LogWarning(e, "PostgreSQL cannot be reached at start; the schema is migrated on first use once it is back");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
