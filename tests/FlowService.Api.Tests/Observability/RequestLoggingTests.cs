using System.Net;
using System.Text;
using Serilog.Events;

namespace FlowService.Api.Tests.Observability;

/// <summary>The request log (Serilog.AspNetCore's completion event) and the HTTP metrics as the running service produces them.</summary>
public sealed class RequestLoggingTests
{
    private static IReadOnlyList<LogEvent> RequestEvents(ObservabilityFactory factory) =>
        factory.Logs.Events.Where(e => CapturingSink.Scalar(e, "SourceContext") == "Serilog.AspNetCore.RequestLoggingMiddleware").ToList();

    [Fact]
    public async Task Each_request_logs_one_event_with_route_template_status_elapsed_and_trace_id()
    {
        // Probes log at Debug; the level override from configuration lets them through here.
        await using var factory = new ObservabilityFactory(new Dictionary<string, string>
        {
            ["Serilog:MinimumLevel:Override:Serilog.AspNetCore.RequestLoggingMiddleware"] = "Debug",
        });
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var missing = await client.GetAsync("/no/such/path/12345");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var events = RequestEvents(factory);
        var live = Assert.Single(events, e => CapturingSink.Scalar(e, "Route") == "/health/live");
        Assert.Equal("GET", CapturingSink.Scalar(live, "RequestMethod"));
        Assert.Equal("200", CapturingSink.Scalar(live, "StatusCode"));
        Assert.True(double.Parse(CapturingSink.Scalar(live, "Elapsed")!, System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.Matches("^[0-9a-f]{32}$", live.TraceId?.ToHexString() ?? "");
        Assert.NotEqual(default, live.SpanId);
        Assert.Equal(LogEventLevel.Debug, live.Level);
        Assert.False(string.IsNullOrEmpty(CapturingSink.Scalar(live, "RequestId")));
        var unmatched = Assert.Single(events, e => CapturingSink.Scalar(e, "StatusCode") == "404");
        Assert.Equal("unmatched", CapturingSink.Scalar(unmatched, "Route"));
        Assert.Equal(LogEventLevel.Information, unmatched.Level);
        Assert.NotEqual(live.TraceId, unmatched.TraceId);
    }

    [Fact]
    public async Task A_caller_trace_context_is_continued_in_the_log_event()
    {
        await using var factory = new ObservabilityFactory();
        using var client = factory.CreateClient();
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/no/such/path");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        await client.SendAsync(request);

        var e = Assert.Single(RequestEvents(factory));
        Assert.Equal(traceId, e.TraceId?.ToHexString());
    }

    [Fact]
    public async Task Request_bodies_and_query_strings_never_reach_the_log()
    {
        await using var factory = new ObservabilityFactory();
        using var client = factory.CreateClient();
        const string secret = "s3cr3t-body-marker-7f2a";

        await client.PostAsync("/models?token=" + secret, new StringContent("{\"password\":\"" + secret + "\"}", Encoding.UTF8, "application/json"));
        await client.PostAsync("/anything", new StringContent(secret));
        await client.GetAsync("/metrics?" + secret);

        Assert.Equal(2, RequestEvents(factory).Count(e => CapturingSink.Scalar(e, "RequestMethod") == "POST"));
        foreach (var e in factory.Logs.Events)
        {
            var rendered = e.RenderMessage() + string.Join(' ', e.Properties.Select(p => p.Value.ToString()));
            Assert.DoesNotContain(secret, rendered);
        }
    }

    [Fact]
    public async Task Metrics_endpoint_counts_requests_by_route_template_and_serves_the_text_format()
    {
        await using var factory = new ObservabilityFactory();
        using var client = factory.CreateClient();
        for (var i = 0; i < 3; i++) await client.GetAsync("/health/live");
        await client.GetAsync("/x/1");
        await client.GetAsync("/x/2");

        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Contains("http_requests_received_total{code=\"200\",method=\"GET\",controller=\"\",action=\"\",endpoint=\"/health/live\"} 3\n", text);
        // Raw paths never become labels: both unmatched requests land in one series.
        Assert.Contains("http_requests_received_total{code=\"404\",method=\"GET\",controller=\"\",action=\"\",endpoint=\"\"} 2\n", text);
        Assert.Contains("http_request_duration_seconds_count{code=\"200\",method=\"GET\",controller=\"\",action=\"\",endpoint=\"/health/live\"} 3\n", text);
        Assert.DoesNotContain("/x/1", text);
        Assert.Contains("# TYPE process_cpu_seconds_total counter", text);
        Assert.Contains("# TYPE process_working_set_bytes gauge", text);
        Assert.Contains("dotnet_collection_count_total{generation=\"0\"}", text);
        Assert.Contains("# TYPE dotnet_gc_allocated_bytes_total counter", text);
        Assert.Contains("# TYPE flowservice_training_jobs_started_total counter", text);
        Assert.Contains("# TYPE flowservice_model_cache_hits_total counter", text);
    }
}
