using Prometheus;

namespace FlowService.Api.Observability;

/// <summary>
/// Whether the service's metric samples carry exemplars (the trace and span ids of the request that produced them,
/// shown in OpenMetrics scrapes): only when traces are exported (<see cref="TracingSetup.ExportsTraces"/>). Without an
/// exporter the ids point at traces nobody keeps, and prometheus-net would still record one on every counter increment
/// and histogram observation of every request (ASP.NET Core starts an Activity per request for the log's trace ids).
/// </summary>
/// <param name="Recorded">True: exemplars from the current trace context, prometheus-net's default.</param>
public sealed record MetricExemplars(bool Recorded)
{
    /// <summary>A metric factory over <paramref name="registry"/> that records exemplars only when <see cref="Recorded"/>.</summary>
    public IMetricFactory Factory(CollectorRegistry registry)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        if (!Recorded)
            factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        return factory;
    }
}
