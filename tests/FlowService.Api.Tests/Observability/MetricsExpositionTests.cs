using FlowService.Api.Observability;
using FlowService.Training.Observability;
using Prometheus;

namespace FlowService.Api.Tests.Observability;

/// <summary>The service's own collectors on a registry of their own: series lifetimes, label bounds and a promtool lint.</summary>
public sealed class MetricsExpositionTests
{
    [Fact]
    public async Task A_finished_jobs_gauges_disappear_and_drained_states_read_zero()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new TrainingMetrics(registry);
        metrics.EpochCompleted("job-1", "m", 0.5, 1.25, 1.5, 1000);
        metrics.SetJobCounts(new Dictionary<string, int> { ["running"] = 1, ["queued"] = 2 });

        var during = await RegistryText.ScrapeAsync(registry);
        metrics.JobSucceeded("job-1");
        metrics.SetJobCounts(new Dictionary<string, int> { ["succeeded"] = 1 });
        var after = await RegistryText.ScrapeAsync(registry);

        Assert.Contains("flowservice_training_train_nll{job=\"job-1\",model=\"m\"} 1.25\n", during);
        Assert.Contains("flowservice_training_samples_per_second{job=\"job-1\",model=\"m\"} 1000\n", during);
        Assert.Contains("flowservice_training_jobs{state=\"queued\"} 2\n", during);
        Assert.DoesNotContain("job-1", after);
        Assert.Contains("flowservice_training_jobs_succeeded_total 1\n", after);
        Assert.Contains("flowservice_training_epoch_duration_seconds_count 1\n", after);
        Assert.Contains("flowservice_training_jobs{state=\"queued\"} 0\n", after);
        Assert.Contains("flowservice_training_jobs{state=\"succeeded\"} 1\n", after);
    }

    [Fact]
    public async Task Model_label_is_bounded_and_label_values_are_escaped()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new InferenceMetrics(registry);
        for (var i = 0; i < 205; i++) metrics.RecordCall(InferenceOperation.Score, "m" + i, 1, 10, 0.001);
        metrics.RecordAnomalies("a\\b\"c\nd", 2, 3);

        var text = await RegistryText.ScrapeAsync(registry);

        Assert.Contains("flowservice_inference_rows_total{model=\"m199\",version=\"1\",operation=\"score\"} 10\n", text);
        Assert.DoesNotContain("model=\"m200\"", text);
        Assert.Contains("flowservice_inference_rows_total{model=\"other\",version=\"1\",operation=\"score\"} 50\n", text);
        // The 201st distinct name is already past the bound: "other" for the escaped one too.
        Assert.Contains("flowservice_inference_anomalies_total{model=\"other\",version=\"2\"} 3\n", text);
    }

    [RequiresToolFact("promtool")]
    public async Task Promtool_accepts_the_full_service_exposition()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(registry);
        RuntimeMetrics.Register(registry);
        var inference = new InferenceMetrics(registry);
        var training = new TrainingMetrics(registry);
        inference.RecordCall(InferenceOperation.Score, "weird \"name\"\n", 3, 128, 0.004);
        inference.RecordBatch(InferenceOperation.Score, 128, 40);
        inference.RecordQueueDelay(InferenceOperation.Score, 0.0008);
        inference.RecordRejection(FlowService.Api.Scoring.OverloadReason.QueueFull);
        inference.RecordAnomalies("m", 1, 2);
        training.SetJobCounts(new Dictionary<string, int> { ["running"] = 1, ["queued"] = 2 });
        training.EpochCompleted("j", "m", 0.3, 1.1, 1.2, 5000);

        var text = await RegistryText.ScrapeAsync(registry);
        var (code, stdout, stderr) = await ExternalTool.RunAsync("promtool", ["check", "metrics"], stdin: text);

        // promtool exits 1 for lint findings too; a format error is reported as "error while linting".
        Assert.DoesNotContain("error while linting", stdout + stderr);
        Assert.True(code == 0, $"promtool check metrics:\n{stdout}\n{stderr}\n---\n{text}");
        Assert.Contains("flowservice_inference_rows_total{model=\"weird \\\"name\\\"\\n\",version=\"3\",operation=\"score\"} 128\n", text);
    }
}
