using FlowService.Api.Hosting;
using HealthChecks.UI.Client;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace FlowService.Api.Health;

/// <summary>
/// ASP.NET Core health checks. GET /health/live: the process answers (no check runs). GET /health/ready: storage
/// (PostgreSQL through AspNetCore.HealthChecks.NpgSql, else the SQLite file) and, when this process runs one, the
/// training worker; 503 when any is unhealthy. Both answer the standard health-check JSON
/// (<c>{"status":"Healthy","totalDuration":…,"entries":{"storage":{…},"worker":{…}}}</c>).
/// </summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static WebApplicationBuilder AddHealth(this WebApplicationBuilder builder)
    {
        var checks = builder.Services.AddHealthChecks();
        var postgres = builder.Configuration.GetConnectionString(StorageRegistration.PostgresConnectionName);
        if (string.IsNullOrWhiteSpace(postgres))
            checks.AddCheck<EmbeddedStorageHealthCheck>("storage", tags: [ReadyTag]);
        else
            checks.AddNpgSql(postgres, name: "storage", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(5));
        checks.AddCheck<WorkerHealthCheck>("worker", tags: [ReadyTag]);
        return builder;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = UIResponseWriter.WriteHealthCheckUIResponse,
        });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = UIResponseWriter.WriteHealthCheckUIResponse,
        });
        return app;
    }
}
