using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace FlowService.ServingLoad;

/// <summary>
/// What one single-row POST /score costs the process, measured in memory (TestServer, no sockets): allocated bytes
/// and CPU time per request over sequential requests, with dynamic batching off so each request runs alone. Unlike
/// requests/s under wrk, bytes per request do not depend on what else the machine runs, so two builds or two
/// configurations (authentication on or off) can be compared on a shared machine; CPU per request is shown beside it.
/// Needs the data folder that <c>prepare</c> trained (model "bench").
/// </summary>
public static class PipelineCost
{
    const string AdminKey = "pipeline-cost-bootstrap-admin-key-0123456789";

    public static async Task<int> RunAsync(string dataPath, string bodyPath, int requests, string auth)
    {
        bool keys = auth == "keys";
        // The service's content root is this tool's output folder (appsettings.json is copied there), not a project folder.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_FLOWSERVICE_API", AppContext.BaseDirectory);
        await using var host = new Host(dataPath, keys);
        using var client = host.CreateClient();
        if (keys)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await ScorerKeyAsync(client));
        byte[] body = File.ReadAllBytes(bodyPath);
        async Task Post()
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync("/score", content);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"POST /score answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await response.Content.ReadAsByteArrayAsync();
        }
        // Warm-up: the model is loaded and tiered compilation reaches its optimized code. That takes time, not a count
        // of requests: hot methods are rewritten at tier 1 (after an instrumented tier) on a background thread over the
        // first 15-30 s of load, and a configuration with more code on the path (keys) has more to rewrite.
        double warmupSeconds = double.Parse(Environment.GetEnvironmentVariable("PIPELINE_WARMUP_SECONDS") ?? "20", System.Globalization.CultureInfo.InvariantCulture);
        long warmupEnd = Stopwatch.GetTimestamp() + (long)(warmupSeconds * Stopwatch.Frequency);
        // PIPELINE_WARMUP_REQUESTS lowers the count for runs without tiering (instruction counts under callgrind).
        int warmupRequests = int.Parse(Environment.GetEnvironmentVariable("PIPELINE_WARMUP_REQUESTS") ?? "2000", System.Globalization.CultureInfo.InvariantCulture);
        for (int i = 0; i < Math.Max(warmupRequests, requests / 2) || Stopwatch.GetTimestamp() < warmupEnd; i++)
            await Post();
        using var allocations = Environment.GetEnvironmentVariable("PIPELINE_ALLOCATIONS") == "1" ? new AllocationTypes() : null;
        allocations?.Start();
        // Exceptions thrown (and caught) along the way: each costs microseconds; the first of each type is printed with its stack.
        var thrown = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        if (allocations is not null)
            AppDomain.CurrentDomain.FirstChanceException += (_, e) =>
            {
                string type = e.Exception.GetType().FullName ?? "?";
                if (thrown.AddOrUpdate(type, 1, (_, n) => n + 1) == 1)
                    Console.Error.WriteLine($"first {type}: {e.Exception.Message}\n{Environment.StackTrace}");
            };
        var process = Process.GetCurrentProcess();
        GC.Collect();
        long bytes0 = GC.GetTotalAllocatedBytes(precise: true);
        var cpu0 = process.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < requests; i++)
            await Post();
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        double cpuUs = (process.TotalProcessorTime - cpu0).TotalMicroseconds / requests;
        long bytes = (GC.GetTotalAllocatedBytes(precise: true) - bytes0) / requests;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "pipeline",
            auth,
            requests,
            bytesPerRequest = bytes,
            cpuMicrosecondsPerRequest = Math.Round(cpuUs, 1),
            wallMicrosecondsPerRequest = Math.Round(seconds * 1e6 / requests, 1),
            load = File.ReadAllText("/proc/loadavg").Split(' ')[0],
            allocationTypes = allocations?.Top(40, bytes),
            exceptionsPerRequest = thrown.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value / (double)requests, 3)),
        }));
        return 0;
    }

    /// <summary>A scorer key created through POST /keys with the bootstrap admin key.</summary>
    static async Task<string> ScorerKeyAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/keys")
        {
            Content = new StringContent("{\"name\":\"pipeline-cost\",\"role\":\"scorer\"}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("key").GetString()!;
    }

    // Any public type of the service's assembly names its entry point (this tool has a Program of its own).
    sealed class Host(string dataPath, bool keys) : WebApplicationFactory<FlowService.Api.Scoring.ScoringService>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("FlowService:DataPath", dataPath);
            builder.UseSetting("FlowService:Worker:Enabled", "false");
            builder.UseSetting("FlowService:Scoring:BatchingEnabled", "false");
            // As bench/serving/run.sh: the request-completion event below the log level, so the log's I/O is not measured.
            builder.UseSetting("Serilog:MinimumLevel:Override:Serilog.AspNetCore.RequestLoggingMiddleware", "Warning");
            // As auth.sh: the per-key limiter stays in the path with a limit too high to bite (sequential requests in
            // memory pass the default 1,000 per second).
            builder.UseSetting("FlowService:RateLimits:InferenceRequestsPerSecond", "1000000");
            if (keys)
                builder.UseSetting("FlowService:Auth:BootstrapAdminKey", AdminKey);
            else
                builder.UseSetting("FlowService:Auth:Mode", "none");
            // PIPELINE_SETTINGS="Key=Value;Key=Value" (configuration keys with ':') last, to price one setting at a time.
            foreach (var setting in (Environment.GetEnvironmentVariable("PIPELINE_SETTINGS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var keyValue = setting.Split('=', 2, StringSplitOptions.TrimEntries);
                builder.UseSetting(keyValue[0], keyValue.ElementAtOrDefault(1) ?? "");
            }
        }
    }
}
