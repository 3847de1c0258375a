using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace FlowService.Api.Tests.Observability;

/// <summary>
/// The spans the service emits, collected with OpenTelemetry's in-memory exporter: a training job with its epochs,
/// and a scoring request whose server span holds the model load and the engine batch, all in the caller's trace.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Training_and_scoring_emit_job_epoch_request_model_load_and_engine_batch_spans()
    {
        var spans = new List<Activity>();
        await using var factory = new ObservabilityFactory(new Dictionary<string, string> { [FlowService.Api.Observability.TracingSetup.EnabledKey] = "true" },
            services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        using var client = factory.CreateClient();

        var dataset = await ServiceTraffic.UploadDatasetAsync(client);
        var job = await ServiceTraffic.CreateJobAsync(client, dataset, "traced", epochs: 3);
        await ServiceTraffic.WaitForJobAsync(client, job, j => j.GetProperty("state").GetString() == "succeeded", "the job to succeed");
        const string traceId = "0af7651916cd43dd8448eb211c80319c";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/score")
        {
            Content = new StringContent("""{"model":"traced","rows":[[0.5,0.2],[1.0,-0.3]]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-b7ad6b7169203331-01");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);

        // Both awaited spans end a moment after what the client sees: the job span after its outcome is recorded (the
        // job already reads as succeeded), the server span after the response has been handed to the client.
        Activity[] snapshot = [];
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            lock (spans) snapshot = spans.ToArray();
            if (snapshot.Any(IsThisJob) && snapshot.Any(IsThisRequest)) break;
        }
        // Span listeners are process-wide: other test hosts' spans reach this exporter too, so every span is picked by its ids.
        var trainingJob = Assert.Single(snapshot, IsThisJob);
        Assert.Equal("traced", trainingJob.GetTagItem("flowservice.model"));
        var epochs = snapshot.Where(s => s.DisplayName == "training epoch" && s.ParentSpanId == trainingJob.SpanId).ToList();
        Assert.Equal(3, epochs.Count);
        Assert.All(epochs, e => Assert.Equal(trainingJob.TraceId, e.TraceId));
        Assert.Equal([1, 2, 3], epochs.Select(e => (int)e.GetTagItem("flowservice.epoch")!).Order());

        var server = Assert.Single(snapshot, IsThisRequest);
        Assert.Equal("/score", server.GetTagItem("http.route"));
        Assert.Equal(200, server.GetTagItem("http.response.status_code"));
        var load = Assert.Single(snapshot, s => s.DisplayName == "model load" && s.TraceId == server.TraceId);
        Assert.Equal(server.SpanId, load.ParentSpanId);
        Assert.Equal(1, load.GetTagItem("flowservice.model.version"));
        // The load's warm-up runs the model once too: the request's own batch is the one under the server span.
        var batch = Assert.Single(snapshot, s => s.DisplayName == "engine batch score" && s.ParentSpanId == server.SpanId);
        Assert.Equal(2, batch.GetTagItem("flowservice.batch.rows"));
        Assert.DoesNotContain(snapshot, s => s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string)?.StartsWith("/health", StringComparison.Ordinal) == true);

        bool IsThisJob(Activity s) => s.DisplayName == "training job" && Equals(s.GetTagItem("flowservice.job.id"), job);
        bool IsThisRequest(Activity s) => s.Kind == ActivityKind.Server && s.TraceId.ToHexString() == traceId;
    }

    [Fact]
    public async Task Without_an_otlp_endpoint_no_tracer_provider_runs_and_logs_keep_their_trace_ids()
    {
        await using var factory = new ObservabilityFactory();
        using var client = factory.CreateClient();

        Assert.Null(factory.Services.GetService<TracerProvider>());
        await client.GetAsync("/no/such/path");
        var e = Assert.Single(factory.Logs.Events, e => CapturingSink.Scalar(e, "SourceContext") == "Serilog.AspNetCore.RequestLoggingMiddleware");
        Assert.Matches("^[0-9a-f]{32}$", e.TraceId?.ToHexString() ?? "");
    }
}
