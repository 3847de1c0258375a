using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using FlowService.Training.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FlowService.Api.Observability;

/// <summary>
/// Serves the "FlowService" meter's instruments in the Prometheus text format 0.0.4, aggregating measurements
/// with a <see cref="MeterListener"/>. Only meters made by this host's <see cref="IMeterFactory"/> are
/// listened to, so each host (and each test's host) exports its own numbers.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] DefaultSecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] DefaultCountBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<string, MetricFamily> families = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim collectGate = new(1, 1);
    private readonly IServiceProvider services;
    private readonly ILogger<PrometheusExporter> logger;

    /// <remarks>
    /// Scrape hooks are resolved at collection time, not here: a hook's dependencies (instrument classes) must
    /// be created after the listener starts, or the measurements they record on construction are missed.
    /// </remarks>
    public PrometheusExporter(IMeterFactory meterFactory, IServiceProvider services, ILogger<PrometheusExporter> logger)
    {
        this.services = services;
        this.logger = logger;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name != FlowServiceMeter.Name || !ReferenceEquals(instrument.Meter.Scope, meterFactory)) return;
            l.EnableMeasurementEvents(instrument, FamilyFor(instrument));
        };
        listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        listener.Start();
    }

    public const string ContentType = PrometheusText.ContentType;

    /// <summary>Runs the scrape hooks, polls the observable instruments and renders every family.</summary>
    public async Task<string> CollectAsync(CancellationToken cancellationToken)
    {
        await collectGate.WaitAsync(cancellationToken);
        try
        {
            foreach (var hook in services.GetServices<IMetricsScrapeHook>())
            {
                try
                {
                    await hook.BeforeScrapeAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A failing hook leaves its gauge at the previous snapshot; the rest of the scrape still serves.
                    logger.LogWarning(ex, "Metrics scrape hook {Hook} failed", hook.GetType().Name);
                }
            }
            foreach (var family in families.Values)
            {
                if (family.Observable) family.ClearObservations();
            }
            listener.RecordObservableInstruments();
            var text = new StringBuilder(16 * 1024);
            foreach (var family in families.Values.OrderBy(f => f.Name, StringComparer.Ordinal)) family.WriteTo(text);
            return text.ToString();
        }
        finally
        {
            collectGate.Release();
        }
    }

    public void Dispose()
    {
        listener.Dispose();
        collectGate.Dispose();
    }

    private MetricFamily FamilyFor(Instrument instrument)
    {
        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        var (kind, absolute) = definition switch
        {
            _ when definition == typeof(Histogram<>) => (MetricKind.Histogram, false),
            _ when definition == typeof(Counter<>) => (MetricKind.Counter, false),
            _ when definition == typeof(ObservableCounter<>) => (MetricKind.Counter, true),
            _ when definition == typeof(UpDownCounter<>) => (MetricKind.Gauge, false),
            _ => (MetricKind.Gauge, true), // ObservableGauge, ObservableUpDownCounter, Gauge: absolute values
        };
        var name = PrometheusText.FamilyName(instrument, kind);
        // Two instruments with one exposed name share the family: the first one's type and help stand.
        return families.GetOrAdd(name, n => new MetricFamily(n, kind, instrument.Description ?? n, absolute,
            instrument.IsObservable, kind == MetricKind.Histogram ? BucketsFor(instrument) : []));
    }

    private static double[] BucketsFor(Instrument instrument)
    {
        var advised = instrument switch
        {
            Instrument<double> d => d.Advice?.HistogramBucketBoundaries?.ToArray(),
            Instrument<long> l => l.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Instrument<int> i => i.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        };
        if (advised is { Length: > 0 }) return advised.Distinct().Order().ToArray();
        return instrument.Unit == "s" ? DefaultSecondsBuckets : DefaultCountBuckets;
    }
}
