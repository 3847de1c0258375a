using System.Diagnostics.Metrics;
using FlowService.Api.Observability;
using FlowService.Training.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowService.Api.Tests.Observability;

/// <summary>The exporter's text on its own: names, types, histogram buckets, escaping, and scope isolation.</summary>
public sealed class PrometheusExporterTests
{
    private static (ServiceProvider Services, IMeterFactory Factory, PrometheusExporter Exporter) NewExporter()
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        return (services, factory, new PrometheusExporter(factory, services, NullLogger<PrometheusExporter>.Instance));
    }

    [Fact]
    public async Task Counter_histogram_and_gauge_are_rendered_with_prometheus_names_and_cumulative_buckets()
    {
        var (services, factory, exporter) = NewExporter();
        using var _ = services;
        using var __ = exporter;
        var meter = factory.Create(FlowServiceMeter.Name);
        var counter = meter.CreateCounter<long>("demo.requests", "{requests}", "Requests.");
        var histogram = meter.CreateHistogram<double>("demo.duration", "s", "Duration.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        var gauge = meter.CreateUpDownCounter<long>("demo.loaded", "{models}", "Loaded.");
        counter.Add(2, new KeyValuePair<string, object?>("route", "/a"));
        counter.Add(3, new KeyValuePair<string, object?>("route", "/a"));
        foreach (var v in new[] { 0.05, 0.1, 0.5, 5, 50 }) histogram.Record(v);
        gauge.Add(4);
        gauge.Add(-1);

        var text = await exporter.CollectAsync(CancellationToken.None);

        Assert.Contains("# TYPE demo_requests_total counter\n", text);
        Assert.Contains("demo_requests_total{route=\"/a\"} 5\n", text);
        Assert.Contains("# TYPE demo_duration_seconds histogram\n", text);
        Assert.Contains("demo_duration_seconds_bucket{le=\"0.1\"} 2\n", text); // le is inclusive: 0.1 counts
        Assert.Contains("demo_duration_seconds_bucket{le=\"1\"} 3\n", text);
        Assert.Contains("demo_duration_seconds_bucket{le=\"10\"} 4\n", text);
        Assert.Contains("demo_duration_seconds_bucket{le=\"+Inf\"} 5\n", text);
        Assert.Contains("demo_duration_seconds_sum 55.65\n", text);
        Assert.Contains("demo_duration_seconds_count 5\n", text);
        Assert.Contains("# TYPE demo_loaded gauge\n", text);
        Assert.Contains("demo_loaded 3\n", text);
    }

    [Fact]
    public async Task Label_values_escape_backslash_quote_and_newline()
    {
        var (services, factory, exporter) = NewExporter();
        using var _ = services;
        using var __ = exporter;
        var counter = factory.Create(FlowServiceMeter.Name).CreateCounter<long>("demo.escapes");
        counter.Add(1, new KeyValuePair<string, object?>("model", "a\\b\"c\nd"));

        var text = await exporter.CollectAsync(CancellationToken.None);

        Assert.Contains("demo_escapes_total{model=\"a\\\\b\\\"c\\nd\"} 1\n", text);
    }

    [Fact]
    public async Task Only_this_hosts_meter_factory_and_the_FlowService_meter_are_exported()
    {
        var (services, factory, exporter) = NewExporter();
        using var _ = services;
        using var __ = exporter;
        using var otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        otherServices.GetRequiredService<IMeterFactory>().Create(FlowServiceMeter.Name).CreateCounter<long>("demo.foreign").Add(1);
        factory.Create("SomethingElse").CreateCounter<long>("demo.other_meter").Add(1);
        factory.Create(FlowServiceMeter.Name).CreateCounter<long>("demo.mine").Add(1);

        var text = await exporter.CollectAsync(CancellationToken.None);

        Assert.Contains("demo_mine_total 1", text);
        Assert.DoesNotContain("demo_foreign", text);
        Assert.DoesNotContain("demo_other_meter", text);
    }

    [Fact]
    public async Task Observable_series_that_stop_reporting_disappear()
    {
        var (services, factory, exporter) = NewExporter();
        using var _ = services;
        using var __ = exporter;
        var metrics = new TrainingMetrics(factory);
        metrics.EpochCompleted("job-1", "m", 0.5, 1.25, 1.5, 1000);

        var during = await exporter.CollectAsync(CancellationToken.None);
        metrics.JobSucceeded("job-1");
        var after = await exporter.CollectAsync(CancellationToken.None);

        Assert.Contains("flowservice_training_train_nll{job=\"job-1\",model=\"m\"} 1.25\n", during);
        Assert.Contains("flowservice_training_samples_per_second{job=\"job-1\",model=\"m\"} 1000\n", during);
        Assert.DoesNotContain("job-1", after);
        Assert.Contains("flowservice_training_jobs_succeeded_total 1\n", after);
        Assert.Contains("flowservice_training_epoch_duration_seconds_count 1\n", after);
    }

    [RequiresToolFact("promtool")]
    public async Task Promtool_accepts_the_full_service_exposition()
    {
        var (services, factory, exporter) = NewExporter();
        using var _ = services;
        using var __ = exporter;
        new ProcessMetrics(factory);
        var http = new HttpMetrics(factory);
        var inference = new InferenceMetrics(factory);
        var training = new TrainingMetrics(factory);
        http.RecordRequest("GET", "/models/{name}/score", 200, 0.012);
        inference.RecordCall(InferenceOperation.Score, "weird \"name\"\n", 3, 128, 0.004);
        inference.RecordBatch(InferenceOperation.Score, 128, 40);
        inference.RecordQueueDelay(InferenceOperation.Score, 0.0008);
        inference.RecordRejection(FlowService.Api.Scoring.OverloadReason.QueueFull);
        inference.RecordAnomalies("m", 1, 2);
        training.SetJobCounts(new Dictionary<string, int> { ["running"] = 1, ["queued"] = 2 });
        training.EpochCompleted("j", "m", 0.3, 1.1, 1.2, 5000);

        var text = await exporter.CollectAsync(CancellationToken.None);
        var (code, stdout, stderr) = await ExternalTool.RunAsync("promtool", ["check", "metrics"], stdin: text);

        // promtool exits 1 for lint findings too; a format error is reported as "error while linting".
        Assert.DoesNotContain("error while linting", stdout + stderr);
        Assert.True(code == 0, $"promtool check metrics:\n{stdout}\n{stderr}\n---\n{text}");
        foreach (var family in text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).GroupBy(l => l.Split(' ')[2]))
        {
            Assert.Single(family);
        }
    }
}
