using Microsoft.AspNetCore.Routing;
using Serilog;
using Serilog.AspNetCore;
using Serilog.Events;

namespace FlowService.Api.Observability;

/// <summary>
/// Serilog.AspNetCore's request-completion event, one per request: RequestMethod, RequestPath (no query string),
/// StatusCode, Elapsed, plus Route (the route template, "unmatched" when none matched), RequestId, and Model /
/// ModelVersion when an inference endpoint called <see cref="RequestTelemetry.SetModel"/>. Bodies, query strings and
/// headers are never logged: they may carry user data and credentials. Probes and scrapes log at Debug so they do not
/// drown the rest; 5xx and exceptions at Error.
/// </summary>
public static class RequestLogging
{
    /// <summary>The Route of requests that matched no endpoint.</summary>
    public const string UnmatchedRoute = "unmatched";

    /// <summary>Put first in the pipeline, so that it sees the status every later middleware settled on.</summary>
    public static IApplicationBuilder UseFlowServiceRequestLogging(this IApplicationBuilder app)
    {
        // The host's logger, not the static Log.Logger that the middleware would otherwise use.
        var logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
        return app.UseSerilogRequestLogging(options =>
        {
            Configure(options);
            options.Logger = logger;
        });
    }

    internal static void Configure(RequestLoggingOptions options)
    {
        options.GetLevel = Level;
        options.EnrichDiagnosticContext = (diagnostics, http) =>
        {
            diagnostics.Set("Route", Route(http));
            diagnostics.Set("RequestId", http.TraceIdentifier);
            var (model, version) = RequestTelemetry.GetModel(http);
            if (model is null) return;
            diagnostics.Set("Model", model);
            diagnostics.Set("ModelVersion", version ?? 0);
        };
    }

    private static string Route(HttpContext http) => (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? UnmatchedRoute;

    private static LogEventLevel Level(HttpContext http, double elapsedMs, Exception? failure)
    {
        if (failure is not null || http.Response.StatusCode >= 500) return LogEventLevel.Error;
        var route = Route(http);
        return route.StartsWith("/health", StringComparison.Ordinal) || route == "/metrics" ? LogEventLevel.Debug : LogEventLevel.Information;
    }
}
