using System.Text.Json;
using System.Text.RegularExpressions;

namespace FlowService.Api.Tests.Observability;

/// <summary>
/// The service on a loopback port, scraped every second by a real Prometheus that also evaluates the repository's
/// rule file. After traffic, Prometheus itself vouches for the exposition (target up, no scrape error), holds the
/// HTTP, inference, training and process series, and evaluates every dashboard and rule expression.
/// </summary>
public sealed class PrometheusScrapeTests
{
    private static readonly string Root = ExternalTool.RepositoryRoot();

    /// <summary>Grafana's interval macros have no meaning to Prometheus; a fixed window stands in, as Grafana would substitute one.</summary>
    private static string WithoutGrafanaMacros(string expr) =>
        expr.Replace("$__rate_interval", "30s", StringComparison.Ordinal).Replace("$__interval", "5s", StringComparison.Ordinal)
            .Replace("$__range", "5m", StringComparison.Ordinal);

    private static IEnumerable<(string Panel, string Expr)> DashboardQueries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "deploy/grafana/dashboards/flowservice.json")));
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets)) continue;
            foreach (var target in targets.EnumerateArray())
            {
                yield return (panel.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!);
            }
        }
    }

    [RequiresToolFact("prometheus", "promtool")]
    public async Task Real_prometheus_scrapes_the_service_and_every_dashboard_and_rule_expression_evaluates()
    {
        await using var factory = new ObservabilityFactory();
        var service = factory.StartOnLoopback();
        var start = DateTimeOffset.UtcNow.AddSeconds(-2);
        await using var prometheus = await PrometheusServer.StartAsync(service, Path.Combine(Root, "deploy/prometheus/rules/flowservice.rules.yml"));
        using var client = new HttpClient { BaseAddress = service };

        var traffic = await ServiceTraffic.RunAsync(client, prometheus);

        // Prometheus has scraped the traffic's final counts: the exposition parsed and the numbers are ours.
        await prometheus.WaitUntilAsync(async () =>
                await prometheus.ScalarAsync($"sum(http_requests_received_total{{endpoint=\"/health/live\",code=\"200\"}})") == traffic.LiveRequests,
            TimeSpan.FromSeconds(30), "the scraped request count to reach the traffic sent");
        Assert.Equal(1, await prometheus.ScalarAsync($"up{{job=\"{PrometheusServer.JobName}\"}}"));
        var target = (await prometheus.ApiAsync("targets")).GetProperty("activeTargets")[0];
        Assert.Equal("up", target.GetProperty("health").GetString());
        Assert.Equal("", target.GetProperty("lastError").GetString());
        Assert.True(await prometheus.ScalarAsync($"scrape_samples_scraped{{job=\"{PrometheusServer.JobName}\"}}") > 50);
        Assert.Equal(traffic.UnmatchedRequests, await prometheus.ScalarAsync("sum(http_requests_received_total{endpoint=\"\",code=\"404\"})"));

        // promtool lints the live exposition too.
        var exposition = await client.GetStringAsync("/metrics");
        var lint = await ExternalTool.RunAsync("promtool", ["check", "metrics"], stdin: exposition);
        Assert.True(lint.ExitCode == 0, lint.StdOut + lint.StdErr);

        // The numbers are the traffic's: the jobs gauge is the job store's view, the counters this process's.
        // (The store marks a job cancelled a moment before the runner counts it: wait for a scrape that has both.)
        await prometheus.WaitUntilAsync(async () => await prometheus.ScalarAsync("flowservice_training_jobs{state=\"cancelled\"}") == 1
                && await prometheus.ScalarAsync("flowservice_training_jobs_cancelled_total") == 1,
            TimeSpan.FromSeconds(20), "the cancelled job in the jobs gauge and the cancelled counter");
        Assert.Equal(1, await prometheus.ScalarAsync("flowservice_training_jobs{state=\"succeeded\"}"));
        Assert.Equal(2, await prometheus.ScalarAsync("flowservice_training_jobs_started_total"));
        Assert.Equal(1, await prometheus.ScalarAsync("flowservice_training_jobs_succeeded_total"));
        Assert.Equal(1, await prometheus.ScalarAsync("flowservice_training_jobs_cancelled_total"));
        Assert.Equal(2 + 3 * 3, await prometheus.ScalarAsync($"sum(flowservice_inference_rows_total{{model=\"{traffic.Model}\",operation=\"score\"}})"));
        Assert.Equal(50, await prometheus.ScalarAsync($"sum(flowservice_inference_rows_total{{model=\"{traffic.Model}\",operation=\"sample\"}})"));
        Assert.True(await prometheus.ScalarAsync($"sum(flowservice_inference_anomalies_total{{model=\"{traffic.Model}\"}})") >= 1);
        foreach (var family in ServiceTraffic.ExpectedFamilies)
        {
            var series = await prometheus.ApiAsync("series?match[]=" + Uri.EscapeDataString(family));
            Assert.True(series.GetArrayLength() > 0, $"Prometheus holds no series for {family}");
        }

        // Every rule has been evaluated by Prometheus without error, and each expression also runs as a query.
        await prometheus.WaitUntilAsync(async () => (await Rules(prometheus)).All(r => r.GetProperty("lastEvaluation").GetString() is { } t && !t.StartsWith("0001", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "every rule to be evaluated");
        foreach (var rule in await Rules(prometheus))
        {
            var name = rule.GetProperty("name").GetString();
            var error = rule.TryGetProperty("lastError", out var e) ? e.GetString() : null;
            Assert.True(rule.GetProperty("health").GetString() == "ok" && string.IsNullOrEmpty(error), $"rule {name}: {error}");
            await prometheus.QueryAsync(rule.GetProperty("query").GetString()!);
        }
        foreach (var recorded in ServiceTraffic.RecordingRulesWithData)
        {
            await prometheus.WaitUntilAsync(async () => (await prometheus.QueryAsync(recorded)).GetArrayLength() > 0, TimeSpan.FromSeconds(10), $"data for {recorded}");
        }

        // Every dashboard query runs as Grafana would run it (a range query over the test's window) and returns data:
        // the traffic feeds every panel (the loss curves through the long job scraped while it ran).
        // A rate() needs two scrapes inside its window: on a loaded machine the second may come a few seconds late, so each
        // query gets until a deadline shared by all of them to return data.
        var empty = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        foreach (var (panel, expr) in DashboardQueries())
        {
            while ((await prometheus.QueryRangeAsync(WithoutGrafanaMacros(expr), start)).GetArrayLength() == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    empty.Add($"{panel}: {expr}");
                    break;
                }
                await Task.Delay(250);
            }
        }
        Assert.True(empty.Count == 0, "dashboard queries without data:\n" + string.Join('\n', empty));

        // The request log saw the inference calls with their model and version, and none of the scored values.
        var scoreEvents = factory.Logs.Events.Where(e => CapturingSink.Scalar(e, "Route") == "/score").ToList();
        Assert.All(scoreEvents, e => Assert.NotNull(e.TraceId));
        Assert.Equal(4, scoreEvents.Count);
        Assert.All(scoreEvents, e =>
        {
            Assert.Equal(traffic.Model, CapturingSink.Scalar(e, "Model"));
            Assert.Equal("1", CapturingSink.Scalar(e, "ModelVersion"));
            Assert.Equal("200", CapturingSink.Scalar(e, "StatusCode"));
        });
        Assert.DoesNotContain(factory.Logs.Events, e => (e.RenderMessage() + string.Join(' ', e.Properties.Values)).Contains(traffic.ScoreMarker, StringComparison.Ordinal));
        var epochs = factory.Logs.Events.Where(e => e.MessageTemplate.Text.Contains("{TrainNll", StringComparison.Ordinal)).ToList();
        Assert.Contains(epochs, e => CapturingSink.Scalar(e, "ModelName") == ServiceTraffic.LongModel && CapturingSink.Scalar(e, "JobId") is { Length: > 0 });
        Assert.Contains(factory.Logs.Events, e => e.MessageTemplate.Text.StartsWith("Training job {JobId} succeeded", StringComparison.Ordinal)
            && CapturingSink.Scalar(e, "ModelName") == traffic.Model);
    }

    private static async Task<List<JsonElement>> Rules(PrometheusServer prometheus) =>
        (await prometheus.ApiAsync("rules")).GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
}
