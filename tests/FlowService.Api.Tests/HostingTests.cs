using System.Net;

namespace FlowService.Api.Tests;

public class HostingTests
{
    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Health_live_and_ready_answer(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        // Liveness runs no check: the standard health-check JSON with no entries.
        var live = await (await client.GetAsync("/health/live")).AssertJson(HttpStatusCode.OK);
        Assert.Equal("Healthy", live.Text("status"));
        Assert.Empty(live.GetProperty("entries").EnumerateObject());
        var ready = await (await client.GetAsync("/health/ready")).AssertJson(HttpStatusCode.OK);
        Assert.Equal("Healthy", ready.Text("status"));
        Assert.Equal("Healthy", ready.GetProperty("entries").GetProperty("storage").Text("status"));
        Assert.Equal("Healthy", ready.GetProperty("entries").GetProperty("worker").Text("status"));
    }

    [Theory]
    [InlineData("FlowService:Scoring:MaxBatchRows", "0", "MaxBatchRows")]
    [InlineData("FlowService:Scoring:MaxQueuedRows", "8", "MaxQueuedRows")] // below the default MaxBatchRows of 256
    [InlineData("FlowService:Scoring:RetryAfterSeconds", "0", "RetryAfterSeconds")]
    [InlineData("FlowService:Worker:HeartbeatMilliseconds", "20000", "HeartbeatMilliseconds")] // over a third of the 30 s lease
    [InlineData("FlowService:Worker:Concurrency", "0", "Concurrency")]
    [InlineData("FlowService:Limits:MaxRows", "-1", "MaxRows")]
    [InlineData("FlowService:RateLimits:RunningJobsPerKey", "-1", "RunningJobsPerKey")]
    [InlineData("FlowService:RateLimits:InferenceBurst", "0", "InferenceBurst")]
    [InlineData("FlowService:Auth:LastUsedFlushSeconds", "0", "LastUsedFlushSeconds")]
    public async Task Out_of_range_settings_stop_the_start_naming_the_setting(string key, string value, string name)
    {
        await using var factory = new FlowServiceFactory(settings: new() { [key] = value });

        var error = Record.Exception(() => factory.CreateClient());

        var validation = Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(error is AggregateException a ? a.InnerException : error);
        Assert.Contains(name, validation.Message);
    }

    [Fact]
    public async Task Swagger_document_lists_every_endpoint_with_examples()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var doc = await (await client.GetAsync("/swagger/v1/swagger.json")).AssertJson(HttpStatusCode.OK);
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/datasets", "/datasets/{id}", "/jobs", "/jobs/{id}", "/jobs/{id}/cancel", "/jobs/{id}/events", "/models", "/models/{name}",
                     "/models/{name}/versions/{version}", "/models/{name}/versions/{version}/checkpoint", "/models/{name}/aliases/{alias}" })
            Assert.True(paths.TryGetProperty(path, out _), $"missing {path}");
        var upload = paths.GetProperty("/datasets").GetProperty("post");
        Assert.Contains("x,y", upload.GetProperty("requestBody").GetProperty("content").GetProperty("text/csv").GetProperty("example").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
    }

    [Fact]
    public async Task Worker_role_serves_probes_and_metrics_but_no_api_and_api_role_runs_no_worker()
    {
        await using (var worker = new FlowServiceFactory(settings: new() { ["FlowService:Role"] = "worker" }))
        {
            var client = worker.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
            await (await client.GetAsync("/datasets")).AssertProblem(HttpStatusCode.NotFound);
            await (await client.GetAsync("/models")).AssertProblem(HttpStatusCode.NotFound);
            // The worker's loops start after the host has: until then the probe is healthy and says "Starting.".
            string? description = null;
            for (var deadline = DateTime.UtcNow.AddSeconds(30); description != "Running." && DateTime.UtcNow < deadline; await Task.Delay(50))
            {
                var ready = await (await client.GetAsync("/health/ready")).AssertJson(HttpStatusCode.OK);
                description = ready.GetProperty("entries").GetProperty("worker").Text("description");
            }
            Assert.Equal("Running.", description);
        }
        await using var api = new FlowServiceFactory(settings: new() { ["FlowService:Role"] = "api" });
        var apiClient = api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await apiClient.GetAsync("/datasets")).StatusCode);
        var apiReady = await (await apiClient.GetAsync("/health/ready")).AssertJson(HttpStatusCode.OK);
        Assert.Equal("Not run by this process.", apiReady.GetProperty("entries").GetProperty("worker").Text("description"));
    }

    [Fact]
    public async Task Unknown_route_is_a_problem()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        await (await factory.CreateClient().GetAsync("/nothing-here")).AssertProblem(HttpStatusCode.NotFound);
    }
}
