using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests.Observability;

/// <summary>
/// The traffic the scrape test sends, and what it should therefore find in Prometheus: probes and unmatched paths,
/// a dataset upload, one job trained to success and served (score, encode, decode, sample), and one long job that
/// is observed while it runs and then cancelled.
/// </summary>
public sealed record ServiceTraffic(int LiveRequests, int UnmatchedRequests, string Model, string ScoreMarker)
{
    public const string ServedModel = "obs-moons";
    public const string LongModel = "obs-long";

    public static readonly string[] ExpectedFamilies =
    [
        "http_requests_received_total", "http_request_duration_seconds_bucket", "http_requests_in_progress",
        "flowservice_inference_rows_total", "flowservice_inference_duration_seconds_bucket", "flowservice_inference_batch_size_bucket",
        "flowservice_inference_anomalies_total", "flowservice_model_cache_hits_total", "flowservice_model_cache_misses_total",
        "flowservice_model_cache_loaded_models",
        "flowservice_training_jobs", "flowservice_training_jobs_started_total", "flowservice_training_jobs_succeeded_total",
        "flowservice_training_jobs_cancelled_total", "flowservice_training_jobs_failed_total", "flowservice_training_checkpoints_total",
        "flowservice_training_epoch_duration_seconds_bucket", "flowservice_training_train_nll", "flowservice_training_validation_nll",
        "flowservice_training_samples_per_second",
        "process_cpu_seconds_total", "process_working_set_bytes", "process_private_memory_bytes",
        "dotnet_collection_count_total", "dotnet_gc_heap_size_bytes", "dotnet_gc_allocated_bytes_total", "dotnet_threadpool_threads", "dotnet_threadpool_queue_length",
    ];

    public static readonly string[] RecordingRulesWithData =
    [
        "flowservice:http_requests:rate5m", "flowservice:http_error_ratio:rate5m",
        "flowservice:http_request_duration_seconds:p99_5m", "flowservice:training_jobs_failed:increase15m",
    ];

    public static async Task<ServiceTraffic> RunAsync(HttpClient client, PrometheusServer prometheus)
    {
        const int live = 12, unmatched = 3;
        for (var i = 0; i < live; i++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        for (var i = 0; i < unmatched; i++) Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/no/such/{i}")).StatusCode);
        var dataset = await UploadDatasetAsync(client);

        var served = await CreateJobAsync(client, dataset, ServedModel, epochs: 5);
        await WaitForJobAsync(client, served, j => j.GetProperty("state").GetString() == "succeeded", "the first job to succeed");

        // A distinctive value in the scored rows: it must never reach the log.
        const string marker = "123.456789";
        await AssertOk(client.PostAsync("/score", Json($$"""{"model":"{{ServedModel}}","rows":[[0.5,0.2],[{{marker}},-99.5]]}""")));
        for (var i = 0; i < 3; i++) await AssertOk(client.PostAsync("/score", Json($$"""{"model":"{{ServedModel}}","rows":[[0.1,0.3],[1.2,-0.4],[0.9,0.1]]}""")));
        await AssertOk(client.PostAsync("/encode", Json($$"""{"model":"{{ServedModel}}","rows":[[0.5,0.2]]}""")));
        await AssertOk(client.PostAsync("/decode", Json($$"""{"model":"{{ServedModel}}","z":[[0.1,-0.2],[0.0,0.0]]}""")));
        await AssertOk(client.GetAsync($"/sample?model={ServedModel}&n=50"));

        // A job long enough to be scraped while it runs (its per-job gauges exist only then), then cancelled.
        var running = await CreateJobAsync(client, dataset, LongModel, epochs: 100_000);
        await WaitForJobAsync(client, running, j => j.GetProperty("state").GetString() == "running" && j.GetProperty("epoch").GetInt32() >= 1, "the long job to run");
        await prometheus.WaitUntilAsync(async () => (await prometheus.QueryAsync($"flowservice_training_train_nll{{model=\"{LongModel}\"}}")).GetArrayLength() > 0,
            TimeSpan.FromSeconds(30), "a scrape of the running job's training gauges");
        await AssertOk(client.PostAsync($"/jobs/{running}/cancel", null), HttpStatusCode.Accepted);
        await WaitForJobAsync(client, running, j => j.GetProperty("state").GetString() == "cancelled", "the long job to be cancelled");
        return new ServiceTraffic(live, unmatched, ServedModel, marker);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertOk(Task<HttpResponseMessage> call, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await call;
        if (response.StatusCode == HttpStatusCode.OK && expected == HttpStatusCode.Accepted) return; // cancel answers 200 or 202
        Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    internal static async Task<string> CreateJobAsync(HttpClient client, string dataset, string model, int epochs)
    {
        using var response = await client.PostAsync("/jobs", Json(
            // An explicit flow: the default ("auto") trains several candidates, and these tests count a single run's epochs.
            $$$"""{"datasetId":"{{{dataset}}}","model":"{{{model}}}","flow":{"type":"realnvp","layers":4,"hidden":[32,32]},"training":{"epochs":{{{epochs}}},"batchSize":64,"patience":{{{epochs}}}}}"""));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    internal static async Task WaitForJobAsync(HttpClient client, string id, Func<JsonElement, bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement job;
        do
        {
            job = await client.GetFromJsonAsync<JsonElement>($"/jobs/{id}");
            if (done(job)) return;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"Timed out waiting for {what}: {job}");
    }

    /// <summary>Two noisy interleaved half-moons, 400 rows.</summary>
    internal static async Task<string> UploadDatasetAsync(HttpClient client)
    {
        var random = new Random(7);
        var csv = new StringBuilder("x,y\n");
        for (var i = 0; i < 400; i++)
        {
            var t = Math.PI * random.NextDouble();
            var (x, y) = i % 2 == 0 ? (Math.Cos(t), Math.Sin(t)) : (1 - Math.Cos(t), 0.5 - Math.Sin(t));
            csv.Append(CultureInfo.InvariantCulture, $"{x + 0.05 * random.NextDouble():F4},{y + 0.05 * random.NextDouble():F4}\n");
        }
        using var response = await client.PostAsync("/datasets?name=obs-moons", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }
}
