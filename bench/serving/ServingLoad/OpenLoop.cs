using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace FlowService.ServingLoad;

/// <summary>
/// An open-loop load generator: requests start on a fixed schedule whether or not earlier ones were answered, so
/// offered load can exceed capacity (a closed-loop tool like wrk can only match it). Latency is counted from each
/// request's scheduled start (no coordinated omission). The server's RSS is sampled every 100 ms.
/// </summary>
public static class OpenLoop
{
    public static async Task<int> RunAsync(string url, string path, string bodyFile, string contentType, int rate, int seconds, int serverPid)
    {
        byte[] body = File.ReadAllBytes(bodyFile);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4096, ConnectTimeout = TimeSpan.FromSeconds(5) })
        { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        var statuses = new ConcurrentDictionary<string, int>();
        var latencies = new ConcurrentBag<double>();
        var latenciesOk = new ConcurrentBag<double>();
        long peakRss = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakRss = Math.Max(peakRss, ProcessMemory.RssBytes(serverPid));
                await Task.Delay(100);
            }
        });

        long total = (long)rate * seconds;
        var inFlight = new List<Task>((int)Math.Min(total, 1_000_000));
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < total; i++)
        {
            double due = i / (double)rate;
            double wait = due - clock.Elapsed.TotalSeconds;
            if (wait > 0.002)
                await Task.Delay(TimeSpan.FromSeconds(wait));
            inFlight.Add(Send(client, path, body, contentType, due, clock, statuses, latencies, latenciesOk));
        }
        double sendSeconds = clock.Elapsed.TotalSeconds;
        await Task.WhenAll(inFlight);
        double elapsed = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await sampler;

        var all = latencies.Order().ToArray();
        var ok = latenciesOk.Order().ToArray();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "openloop",
            offeredPerSecond = rate,
            seconds,
            sendSeconds,
            elapsed,
            requests = total,
            statuses = statuses.OrderBy(s => s.Key).ToDictionary(),
            okPerSecond = ok.Length / elapsed,
            latencyMs = Summary(all),
            okLatencyMs = Summary(ok),
            serverPeakRssMiB = peakRss / 1048576.0,
        }));
        return 0;
    }

    static async Task Send(HttpClient client, string path, byte[] body, string contentType, double due, Stopwatch clock,
        ConcurrentDictionary<string, int> statuses, ConcurrentBag<double> latencies, ConcurrentBag<double> latenciesOk)
    {
        string status;
        try
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            using var response = await client.PostAsync(path, content);
            await response.Content.ReadAsByteArrayAsync();
            status = ((int)response.StatusCode).ToString();
            if (response.IsSuccessStatusCode)
                latenciesOk.Add((clock.Elapsed.TotalSeconds - due) * 1000);
        }
        catch (Exception e)
        {
            status = e.GetType().Name;
        }
        latencies.Add((clock.Elapsed.TotalSeconds - due) * 1000);
        statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
    }

    static object Summary(double[] sorted) => sorted.Length == 0 ? new { } : new
    {
        p50 = sorted[(int)(0.50 * (sorted.Length - 1))],
        p95 = sorted[(int)(0.95 * (sorted.Length - 1))],
        p99 = sorted[(int)(0.99 * (sorted.Length - 1))],
        max = sorted[^1],
    };
}
