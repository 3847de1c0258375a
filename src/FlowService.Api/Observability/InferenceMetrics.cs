using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using FlowService.Training.Observability;

namespace FlowService.Api.Observability;

/// <summary>
/// Inference instruments: rows scored / encoded / decoded / sampled (flowservice_inference_rows_total{model,
/// version,operation}), call duration, the size of the batches the engine ran (after dynamic batching),
/// anomalies flagged, and the model cache's hits, misses and loaded models.
/// </summary>
public sealed class InferenceMetrics
{
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] QueueDelayBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536];

    private readonly ModelLabelLimiter models = new();
    private readonly Counter<long> rows;
    private readonly Histogram<double> duration;
    private readonly Histogram<long> batchSize;
    private readonly Histogram<long> batchRequests;
    private readonly Histogram<double> queueDelay;
    private readonly Counter<long> rejected;
    private readonly Counter<long> anomalies;
    private readonly Counter<long> cacheHits;
    private readonly Counter<long> cacheMisses;
    private volatile Func<int> loadedModels = () => 0;

    public InferenceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(FlowServiceMeter.Name);
        rows = meter.CreateCounter<long>("flowservice.inference.rows", "{rows}", "Rows scored, encoded, decoded or sampled, by model, version and operation.");
        duration = meter.CreateHistogram<double>("flowservice.inference.duration", "s", "Inference call duration, by model, version and operation.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        batchSize = meter.CreateHistogram<long>("flowservice.inference.batch_size", "{rows}", "Rows per batch run through a model (after dynamic batching).",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets.Select(b => (long)b).ToArray() });
        batchRequests = meter.CreateHistogram<long>("flowservice.inference.batch_requests", "{requests}", "Requests merged into one engine batch, by operation.",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets.Select(b => (long)b).ToArray() });
        queueDelay = meter.CreateHistogram<double>("flowservice.inference.queue_delay", "s", "Time a request waited in its model's batch queue, by operation.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = QueueDelayBuckets });
        rejected = meter.CreateCounter<long>("flowservice.inference.rejected", "{requests}", "Inference requests refused for lack of capacity (503), by reason.");
        anomalies = meter.CreateCounter<long>("flowservice.inference.anomalies", "{rows}", "Scored rows flagged as anomalies, by model and version.");
        cacheHits = meter.CreateCounter<long>("flowservice.model_cache.hits", "{lookups}", "Model cache lookups answered from memory.");
        cacheMisses = meter.CreateCounter<long>("flowservice.model_cache.misses", "{lookups}", "Model cache lookups that loaded a checkpoint.");
        meter.CreateObservableGauge("flowservice.model_cache.loaded_models", () => loadedModels(), "{models}", "Model versions held in the cache.");
        cacheHits.Add(0);
        cacheMisses.Add(0);
        rejected.Add(0, new KeyValuePair<string, object?>("reason", "concurrency"));
    }

    /// <summary>One inference call over <paramref name="rowCount"/> rows of <paramref name="model"/> version <paramref name="version"/>.</summary>
    public void RecordCall(InferenceOperation operation, string model, int version, int rowCount, double seconds)
    {
        var tags = Tags(model, version, operation);
        rows.Add(rowCount, tags);
        duration.Record(seconds, tags);
    }

    /// <summary>One batch the engine ran: <paramref name="requestCount"/> requests merged into <paramref name="rowCount"/> rows.</summary>
    public void RecordBatch(InferenceOperation operation, int rowCount, int requestCount)
    {
        var tag = new KeyValuePair<string, object?>("operation", OperationLabel(operation));
        batchSize.Record(rowCount, tag);
        batchRequests.Record(requestCount, tag);
    }

    /// <summary>How long a request waited in a batch queue before its batch ran.</summary>
    public void RecordQueueDelay(InferenceOperation operation, double seconds) =>
        queueDelay.Record(seconds, new KeyValuePair<string, object?>("operation", OperationLabel(operation)));

    public void RecordRejection(Scoring.OverloadReason reason) =>
        rejected.Add(1, new KeyValuePair<string, object?>("reason", reason switch
        {
            Scoring.OverloadReason.Concurrency => "concurrency",
            Scoring.OverloadReason.QueueFull => "queue_full",
            _ => "queue_timeout",
        }));

    private static string OperationLabel(InferenceOperation operation) => operation switch
    {
        InferenceOperation.Score => "score",
        InferenceOperation.Encode => "encode",
        InferenceOperation.Decode => "decode",
        _ => "sample",
    };

    public void RecordAnomalies(string model, int version, int count)
    {
        var tags = new TagList { { "model", models.Label(model) }, { "version", version.ToString(CultureInfo.InvariantCulture) } };
        anomalies.Add(count, tags);
    }

    public void CacheHit() => cacheHits.Add(1);

    public void CacheMiss() => cacheMisses.Add(1);

    /// <summary>The cache reports its own size: read at each scrape, so evictions need no bookkeeping here.</summary>
    public void ObserveLoadedModels(Func<int> count) => loadedModels = count;

    private TagList Tags(string model, int version, InferenceOperation operation) => new()
    {
        { "model", models.Label(model) },
        { "version", version.ToString(CultureInfo.InvariantCulture) },
        { "operation", OperationLabel(operation) },
    };
}
