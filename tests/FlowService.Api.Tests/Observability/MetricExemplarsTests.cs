using System.Diagnostics;
using System.Text;
using FlowService.Api.Observability;
using Microsoft.Extensions.Configuration;
using Prometheus;

namespace FlowService.Api.Tests.Observability;

public sealed class MetricExemplarsTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Inference_samples_carry_the_requests_trace_id_only_when_traces_are_exported(bool exported)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new InferenceMetrics(registry, new MetricExemplars(Recorded: exported));
        using (var request = new Activity("POST /score").SetIdFormat(ActivityIdFormat.W3C).Start())
            metrics.RecordCall(InferenceOperation.Score, "m", 1, 10, 0.002);

        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream, ExpositionFormat.OpenMetricsText);
        string text = Encoding.UTF8.GetString(stream.ToArray());

        Assert.Contains("flowservice_inference_rows_total{model=\"m\",version=\"1\",operation=\"score\"} 10", text);
        Assert.Equal(exported, text.Contains("trace_id=", StringComparison.Ordinal));
    }

    [Fact]
    public void Traces_are_exported_when_an_otlp_endpoint_is_configured()
    {
        static IConfiguration With(params (string Key, string Value)[] settings) =>
            new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build();
        Assert.False(TracingSetup.ExportsTraces(With()));
        Assert.True(TracingSetup.ExportsTraces(With(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"))));
        Assert.True(TracingSetup.ExportsTraces(With(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"))));
    }
}
