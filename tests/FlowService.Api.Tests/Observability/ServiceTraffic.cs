using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

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

    /// <summary>Two noisy interleaved half-moons, 400 rows: enough for a few quick epochs.</summary>
    private static async Task<string> UploadDatasetAsync(HttpClient client)
    {
        var random = new Random(7);
        var csv = new StringBuilder("x,y\n");
        for (var i = 0; i < 400; i++)
        {
            var t = Math.PI * random.NextDouble();
            var (x, y) = i % 2 == 0 ? (Math.Cos(t), Math.Sin(t)) : (1 - Math.Cos(t), 0.5 - Math.Sin(t));
            csv.Append(CultureInfo.InvariantCulture, $"{x + 0.05 * random.NextDouble():F4},{y + 0.05 * random.NextDouble():F4}\n");
        }
        var response = await client.PostAsync("/datasets?name=obs-moons", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public static async Task<ServiceTraffic> RunAsync(HttpClient client)
    {
        const int live = 12, unmatched = 3;
        for (var i = 0; i < live; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        for (var i = 0; i < unmatched; i++) Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/no/such/{i}")).StatusCode);
        var dataset = await UploadDatasetAsync(client);
        var job = await client.PostAsync("/jobs", new StringContent(
            $$$"""{"datasetId":"{{{dataset}}}","model":"obs-moons","flow":{"type":"realnvp","layers":2,"hidden":[8]},"training":{"epochs":3,"batchSize":64,"patience":5}}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
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
