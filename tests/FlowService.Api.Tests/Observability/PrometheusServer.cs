using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace FlowService.Api.Tests.Observability;

/// <summary>
/// A real Prometheus (the Debian package) in a temp folder on a free loopback port, scraping one target every
/// second and evaluating the repository's rule file every second; killed and deleted on dispose.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string JobName = "flowservice-api";

    private readonly Process process;
    private readonly string folder;
    private readonly HttpClient http;

    private PrometheusServer(Process process, string folder, Uri address)
    {
        this.process = process;
        this.folder = folder;
        http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public static async Task<PrometheusServer> StartAsync(Uri target, string ruleFile)
    {
        var folder = Directory.CreateTempSubdirectory("flowservice-prometheus-").FullName;
        var port = ObservabilityFactory.FreePort();
        var config = Path.Combine(folder, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files:
              - {ruleFile}
            scrape_configs:
              - job_name: {JobName}
                static_configs:
                  - targets: ["{target.Authority}"]
            """);
        var info = new ProcessStartInfo(ExternalTool.Find("prometheus")!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var a in new[] { "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(folder, "tsdb"),
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", "--web.enable-lifecycle" })
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, folder, new Uri($"http://127.0.0.1:{port}"));
        await server.WaitUntilAsync(async () => (await server.http.GetAsync("/-/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "Prometheus ready");
        return server;
    }

    /// <summary>Polls <paramref name="condition"/> (exceptions count as false) until true or the timeout passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"Prometheus exited with {process.ExitCode} while waiting for {what}");
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}");
            await Task.Delay(250);
        }
    }

    /// <summary>GET /api/v1/{path}; returns the "data" element, throwing with Prometheus's error when status is not success.</summary>
    public async Task<JsonElement> ApiAsync(string pathAndQuery)
    {
        using var response = await http.GetAsync("/api/v1/" + pathAndQuery);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (body.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"{pathAndQuery}: {body.GetProperty("errorType")} {body.GetProperty("error")}");
        }
        return body.GetProperty("data").Clone();
    }

    /// <summary>An instant query's result vector (or matrix/scalar as returned).</summary>
    public async Task<JsonElement> QueryAsync(string expr) =>
        (await ApiAsync("query?query=" + Uri.EscapeDataString(expr))).GetProperty("result");

    /// <summary>A range query, as Grafana issues for a time-series panel, over [start, now] in 1 s steps.</summary>
    public async Task<JsonElement> QueryRangeAsync(string expr, DateTimeOffset start)
    {
        var end = DateTimeOffset.UtcNow;
        return (await ApiAsync($"query_range?query={Uri.EscapeDataString(expr)}&start={start.ToUnixTimeSeconds()}&end={end.ToUnixTimeSeconds()}&step=1"))
            .GetProperty("result");
    }

    public async Task<double?> ScalarAsync(string expr)
    {
        var result = await QueryAsync(expr);
        if (result.GetArrayLength() == 0) return null;
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        finally
        {
            process.Dispose();
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
