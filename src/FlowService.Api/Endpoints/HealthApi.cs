using FlowService.Api.Hosting;
using FlowService.Training.Jobs;
using FlowService.Training.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Endpoints;

/// <summary>
/// GET /health/live (the process answers) and GET /health/ready (storage reachable and, when this
/// process runs a worker, the worker loop alive); not ready is a 503 problem naming what is missing.
/// </summary>
public static class HealthApi
{
    public sealed record HealthReport(string Status, IReadOnlyDictionary<string, string> Checks);

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Health");
        group.MapGet("/live", Live).WithSummary("Liveness: the process answers.");
        group.MapGet("/ready", Ready).WithSummary("Readiness: storage reachable and the worker running (when this process runs one).");
        return app;
    }

    static Ok<HealthReport> Live() => TypedResults.Ok(new HealthReport("live", new Dictionary<string, string>()));

    static Results<Ok<HealthReport>, ProblemHttpResult> Ready(IStorageProbe storage, WorkerStatus worker)
    {
        var checks = new Dictionary<string, string>
        {
            ["storage"] = storage.IsReachable() ? "ok" : "unreachable",
            ["worker"] = !worker.Expected ? "not run by this process" : worker.IsRunning ? "running" : "stopped",
        };
        var failing = checks.Where(c => c.Value is "unreachable" or "stopped").Select(c => $"{c.Key}: {c.Value}").ToList();
        if (failing.Count == 0)
            return TypedResults.Ok(new HealthReport("ready", checks));
        return Problems.Create(StatusCodes.Status503ServiceUnavailable, "Not ready.", string.Join("; ", failing));
    }
}
