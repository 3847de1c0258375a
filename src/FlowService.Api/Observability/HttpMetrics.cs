using System.Diagnostics;
using System.Diagnostics.Metrics;
using FlowService.Training.Observability;

namespace FlowService.Api.Observability;

/// <summary>
/// HTTP server instruments, recorded once per request by <see cref="RequestLoggingMiddleware"/>:
/// flowservice_http_requests_total and flowservice_http_request_duration_seconds, labelled by route template
/// (never the raw path), method and status code, so the number of series stays bounded.
/// </summary>
public sealed class HttpMetrics
{
    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly HashSet<string> KnownMethods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    private readonly Counter<long> requests;
    private readonly Histogram<double> duration;

    public HttpMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(FlowServiceMeter.Name);
        requests = meter.CreateCounter<long>("flowservice.http.requests", "{requests}", "HTTP requests handled, by route template, method and status code.");
        duration = meter.CreateHistogram<double>("flowservice.http.request.duration", "s", "HTTP request duration, by route template, method and status code.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    public void RecordRequest(string method, string route, int statusCode, double seconds)
    {
        var tags = new TagList
        {
            { "method", KnownMethods.Contains(method) ? method : "OTHER" },
            { "route", route },
            { "status", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        requests.Add(1, tags);
        duration.Record(seconds, tags);
    }
}
