using System.Net;

namespace FlowService.Api.Tests.Observability;

/// <summary>
/// The traffic the scrape test sends, and what it should therefore find in Prometheus: which families have
/// series, which recording rules have data, and which dashboard panels legitimately stay empty.
/// </summary>
public sealed record ServiceTraffic(int LiveRequests, int UnmatchedRequests)
{
    public IReadOnlyList<string> ExpectedFamilies { get; init; } = [];

    public IReadOnlyList<string> RecordingRulesWithData { get; init; } = [];

    /// <summary>Panel titles whose queries need something this traffic does not cause (5xx errors, job failures).</summary>
    public IReadOnlyList<string> PanelsWithoutData { get; init; } = [];

    public static async Task<ServiceTraffic> RunAsync(HttpClient client)
    {
        const int live = 12, unmatched = 3;
        for (var i = 0; i < live; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        for (var i = 0; i < unmatched; i++) Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/no/such/{i}")).StatusCode);
        return new ServiceTraffic(live, unmatched)
        {
            ExpectedFamilies =
            [
                "flowservice_http_requests_total", "flowservice_http_request_duration_seconds_bucket",
                "flowservice_model_cache_hits_total", "flowservice_model_cache_loaded_models",
                "flowservice_training_jobs", "flowservice_training_jobs_started_total", "flowservice_training_jobs_failed_total",
                "process_cpu_seconds_total", "process_working_set_bytes", "process_private_memory_bytes",
                "dotnet_gc_collections_total", "dotnet_gc_heap_size_bytes", "dotnet_threadpool_threads", "dotnet_threadpool_queue_length",
            ],
            RecordingRulesWithData =
            [
                "flowservice:http_requests:rate5m", "flowservice:http_error_ratio:rate5m",
                "flowservice:http_request_duration_seconds:p99_5m", "flowservice:training_jobs_failed:increase15m",
            ],
            PanelsWithoutData =
            [
                "Rows scored per second by model", "Rows per second by operation", "Anomaly rate by model (share of scored rows)",
                "Batch sizes (rows per engine batch)", "Inference latency p95 by model and operation",
                "Training loss curves (NLL, nats per row)", "Training throughput and epoch time",
            ],
        };
    }
}
