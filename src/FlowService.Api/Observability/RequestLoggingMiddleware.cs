using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace FlowService.Api.Observability;

/// <summary>
/// One log event and one HTTP metric sample per request: method, route template, status code, elapsed
/// milliseconds, trace id and request id, and the model and version when an endpoint set them
/// (<see cref="RequestTelemetry.SetModel"/>). Bodies, query strings and headers are never logged: they may
/// carry user data and credentials. Probe and scrape requests log at Debug so they do not drown the rest.
/// </summary>
public sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger, HttpMetrics metrics)
{
    /// <summary>The route label of requests that matched no endpoint (a raw path would be unbounded).</summary>
    public const string UnmatchedRoute = "unmatched";

    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var statusCode = StatusCodes.Status500InternalServerError;
        Exception? failure = null;
        try
        {
            await next(context);
            statusCode = context.Response.StatusCode;
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(start);
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? UnmatchedRoute;
            if (failure is not null && context.Response.HasStarted) statusCode = context.Response.StatusCode;
            metrics.RecordRequest(context.Request.Method, route, statusCode, elapsed.TotalSeconds);
            Log(context, route, statusCode, elapsed.TotalMilliseconds, failure);
        }
    }

    private void Log(HttpContext context, string route, int statusCode, double elapsedMs, Exception? failure)
    {
        var level = statusCode >= 500 || failure is not null ? LogLevel.Error
            : IsQuietRoute(route) ? LogLevel.Debug
            : LogLevel.Information;
        if (!logger.IsEnabled(level)) return;
        var traceId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        var (model, version) = RequestTelemetry.GetModel(context);
        if (model is null)
        {
            LogRequest(logger, level, failure, context.Request.Method, route, statusCode, elapsedMs, traceId, context.TraceIdentifier);
        }
        else
        {
            LogModelRequest(logger, level, failure, context.Request.Method, route, statusCode, elapsedMs, model, version ?? 0, traceId, context.TraceIdentifier);
        }
    }

    private static bool IsQuietRoute(string route) =>
        route.StartsWith("/health", StringComparison.Ordinal) || route == "/metrics";

    [LoggerMessage(EventId = 1001, Message = "HTTP {Method} {Route} responded {StatusCode} in {ElapsedMs:0.000} ms (trace {TraceId}, request {RequestId})")]
    private static partial void LogRequest(ILogger logger, LogLevel level, Exception? failure, string method, string route, int statusCode,
        double elapsedMs, string traceId, string requestId);

    [LoggerMessage(EventId = 1002, Message = "HTTP {Method} {Route} responded {StatusCode} in {ElapsedMs:0.000} ms for model {Model} v{ModelVersion} (trace {TraceId}, request {RequestId})")]
    private static partial void LogModelRequest(ILogger logger, LogLevel level, Exception? failure, string method, string route, int statusCode,
        double elapsedMs, string model, int modelVersion, string traceId, string requestId);
}
