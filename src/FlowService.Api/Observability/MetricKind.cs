namespace FlowService.Api.Observability;

/// <summary>The Prometheus TYPE a family is exposed as.</summary>
internal enum MetricKind
{
    Counter,
    Gauge,
    Histogram,
}
