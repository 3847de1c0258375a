using System.Collections.Concurrent;
using System.Globalization;
using Prometheus;

namespace FlowService.Api.Observability;

/// <summary>
/// Inference collectors (prometheus-net): rows scored / encoded / decoded / sampled (flowservice_inference_rows_total
/// {model,version,operation}), call duration, the size of the batches the engine ran (after dynamic batching), the
/// requests merged per batch and their queue delay, rejections, anomalies flagged, and the model cache's hits,
/// misses and loaded models.
/// </summary>
public sealed class InferenceMetrics
{
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] QueueDelayBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536];
    private static readonly string[] CallLabels = ["model", "version", "operation"];

    private readonly ModelLabelLimiter models = new();
    private readonly Counter rows;
    private readonly Histogram duration;
    private readonly Histogram batchSize;
    private readonly Histogram batchRequests;
    private readonly Histogram queueDelay;
    private readonly Counter rejected;
    private readonly Counter anomalies;
    private readonly Counter cacheHits;
    private readonly Counter cacheMisses;
    private volatile Func<int> loadedModels = () => 0;
    private readonly ConcurrentDictionary<(string Model, int Version, InferenceOperation Operation), CallSeries> callSeries = new();
    private readonly ConcurrentDictionary<(string Model, int Version), Counter.Child> anomalySeries = new();

    /// <param name="registry">The host's registry (one per host, so two hosts in one test process never mix).</param>
    /// <param name="exemplars">Whether samples carry the request's trace ids; none when not given.</param>
    public InferenceMetrics(CollectorRegistry registry, MetricExemplars? exemplars = null)
    {
        var factory = (exemplars ?? new MetricExemplars(Recorded: false)).Factory(registry);
        rows = factory.CreateCounter("flowservice_inference_rows_total", "Rows scored, encoded, decoded or sampled, by model, version and operation.", CallLabels);
        duration = factory.CreateHistogram("flowservice_inference_duration_seconds", "Inference call duration, by model, version and operation.", CallLabels,
            new HistogramConfiguration { Buckets = DurationBuckets });
        batchSize = factory.CreateHistogram("flowservice_inference_batch_size", "Rows per batch run through a model (after dynamic batching), by operation.", ["operation"],
            new HistogramConfiguration { Buckets = BatchBuckets });
        batchRequests = factory.CreateHistogram("flowservice_inference_batch_requests", "Requests merged into one engine batch, by operation.", ["operation"],
            new HistogramConfiguration { Buckets = BatchBuckets });
        queueDelay = factory.CreateHistogram("flowservice_inference_queue_delay_seconds", "Time a request waited in its model's batch queue, by operation.", ["operation"],
            new HistogramConfiguration { Buckets = QueueDelayBuckets });
        rejected = factory.CreateCounter("flowservice_inference_rejected_total", "Inference requests refused for lack of capacity (503), by reason.", ["reason"]);
        anomalies = factory.CreateCounter("flowservice_inference_anomalies_total", "Scored rows flagged as anomalies, by model and version.", ["model", "version"]);
        cacheHits = factory.CreateCounter("flowservice_model_cache_hits_total", "Model cache lookups answered from memory.");
        cacheMisses = factory.CreateCounter("flowservice_model_cache_misses_total", "Model cache lookups that loaded a checkpoint.");
        var loaded = factory.CreateGauge("flowservice_model_cache_loaded_models", "Model versions held in the cache.");
        // The cache reports its own size at each scrape, so evictions need no bookkeeping here.
        registry.AddBeforeCollectCallback(() => loaded.Set(loadedModels()));
        // Labelled series exist from the first scrape, so rate() has a zero to start from.
        rejected.WithLabels("concurrency");
    }

    /// <summary>One inference call over <paramref name="rowCount"/> rows of <paramref name="model"/> version <paramref name="version"/>.</summary>
    public void RecordCall(InferenceOperation operation, string model, int version, int rowCount, double seconds)
    {
        var series = CallSeriesFor(model, version, operation);
        series.Rows.Inc(rowCount);
        series.Duration.Observe(seconds);
    }

    /// <summary>
    /// The labelled series of one (model, version, operation), looked up once and kept: every request records into
    /// them, and resolving the labels each time (a label array, the version's string, two label-set lookups) was most
    /// of what recording a request cost. One entry per (model, version, operation) this process has served; models past
    /// <see cref="ModelLabelLimiter.MaxModels"/> share the "other" series as before.
    /// </summary>
    private CallSeries CallSeriesFor(string model, int version, InferenceOperation operation)
    {
        if (callSeries.TryGetValue((model, version, operation), out var series))
            return series;
        string[] labels = [models.Label(model), version.ToString(CultureInfo.InvariantCulture), OperationLabel(operation)];
        return callSeries.GetOrAdd((model, version, operation), new CallSeries(rows.WithLabels(labels), duration.WithLabels(labels)));
    }

    private sealed record CallSeries(Counter.Child Rows, Histogram.Child Duration);

    /// <summary>One batch the engine ran: <paramref name="requestCount"/> requests merged into <paramref name="rowCount"/> rows.</summary>
    public void RecordBatch(InferenceOperation operation, int rowCount, int requestCount)
    {
        var label = OperationLabel(operation);
        batchSize.WithLabels(label).Observe(rowCount);
        batchRequests.WithLabels(label).Observe(requestCount);
    }

    /// <summary>How long a request waited in a batch queue before its batch ran.</summary>
    public void RecordQueueDelay(InferenceOperation operation, double seconds) => queueDelay.WithLabels(OperationLabel(operation)).Observe(seconds);

    public void RecordRejection(Scoring.OverloadReason reason) =>
        rejected.WithLabels(reason switch
        {
            Scoring.OverloadReason.Concurrency => "concurrency",
            Scoring.OverloadReason.QueueFull => "queue_full",
            _ => "queue_timeout",
        }).Inc();

    private static string OperationLabel(InferenceOperation operation) => operation switch
    {
        InferenceOperation.Score => "score",
        InferenceOperation.Encode => "encode",
        InferenceOperation.Decode => "decode",
        _ => "sample",
    };

    public void RecordAnomalies(string model, int version, int count)
    {
        if (!anomalySeries.TryGetValue((model, version), out var series))
            series = anomalySeries.GetOrAdd((model, version), anomalies.WithLabels(models.Label(model), version.ToString(CultureInfo.InvariantCulture)));
        series.Inc(count);
    }

    public void CacheHit() => cacheHits.Inc();

    public void CacheMiss() => cacheMisses.Inc();

    /// <summary>The cache reports its own size: read at each scrape.</summary>
    public void ObserveLoadedModels(Func<int> count) => loadedModels = count;
}
