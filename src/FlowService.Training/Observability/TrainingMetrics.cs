using Prometheus;

namespace FlowService.Training.Observability;

/// <summary>
/// Training collectors (prometheus-net): jobs by state (a gauge refreshed from the job store before each scrape),
/// jobs started / succeeded / failed / cancelled, checkpoint writes, epoch duration, and the latest train/validation
/// NLL and throughput of each job running in this process (flowservice_training_train_nll{job,model}; a job's series
/// are removed when it ends, so a finished job does not linger as a flat line).
/// </summary>
public sealed class TrainingMetrics
{
    private static readonly double[] EpochBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
    private static readonly string[] JobLabels = ["job", "model"];

    private readonly Counter started;
    private readonly Counter succeeded;
    private readonly Counter failed;
    private readonly Counter cancelled;
    private readonly Counter checkpoints;
    private readonly Histogram epochDuration;
    private readonly Gauge jobsByState;
    private readonly Gauge trainNll;
    private readonly Gauge validationNll;
    private readonly Gauge samplesPerSecond;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> running = new(StringComparer.Ordinal);

    /// <param name="registry">The host's registry (one per host, so two hosts in one test process never mix).</param>
    public TrainingMetrics(CollectorRegistry registry)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        started = factory.CreateCounter("flowservice_training_jobs_started_total", "Training jobs this process started (a resumed job counts again).");
        succeeded = factory.CreateCounter("flowservice_training_jobs_succeeded_total", "Training jobs that registered a model version.");
        failed = factory.CreateCounter("flowservice_training_jobs_failed_total", "Training jobs that ended in failure.");
        cancelled = factory.CreateCounter("flowservice_training_jobs_cancelled_total", "Training jobs cancelled while running.");
        checkpoints = factory.CreateCounter("flowservice_training_checkpoints_total", "Checkpoints written by training jobs.");
        epochDuration = factory.CreateHistogram("flowservice_training_epoch_duration_seconds", "Wall time of one training epoch.",
            new HistogramConfiguration { Buckets = EpochBuckets });
        jobsByState = factory.CreateGauge("flowservice_training_jobs", "Training jobs in the store, by state.", "state");
        trainNll = factory.CreateGauge("flowservice_training_train_nll", "Latest epoch's mean training NLL per row, per running job.", JobLabels);
        validationNll = factory.CreateGauge("flowservice_training_validation_nll", "Latest epoch's validation NLL per row, per running job.", JobLabels);
        samplesPerSecond = factory.CreateGauge("flowservice_training_samples_per_second", "Latest epoch's training throughput, per running job.", JobLabels);
    }

    public void JobStarted() => started.Inc();

    public void JobSucceeded(string jobId) { succeeded.Inc(); Forget(jobId); }

    public void JobFailed(string jobId) { failed.Inc(); Forget(jobId); }

    public void JobCancelled(string jobId) { cancelled.Inc(); Forget(jobId); }

    public void CheckpointWritten() => checkpoints.Inc();

    /// <summary>Records one finished epoch and makes its losses and throughput the job's current gauges.</summary>
    public void EpochCompleted(string jobId, string model, double epochSeconds, double trainNll, double validationNll, double samplesPerSecond)
    {
        epochDuration.Observe(epochSeconds);
        running[jobId] = model;
        this.trainNll.WithLabels(jobId, model).Set(trainNll);
        this.validationNll.WithLabels(jobId, model).Set(validationNll);
        this.samplesPerSecond.WithLabels(jobId, model).Set(samplesPerSecond);
    }

    /// <summary>
    /// Sets the jobs-by-state gauge (state name → count, read from the job store just before each scrape). States
    /// absent from <paramref name="counts"/> keep their series at 0 once seen, so a drained state reads 0, not gone.
    /// </summary>
    public void SetJobCounts(IReadOnlyDictionary<string, int> counts)
    {
        foreach (var labels in jobsByState.GetAllLabelValues().ToList())
        {
            if (!counts.Keys.Any(k => k.Equals(labels[0], StringComparison.OrdinalIgnoreCase))) jobsByState.WithLabels(labels).Set(0);
        }
        foreach (var (state, n) in counts) jobsByState.WithLabels(state.ToLowerInvariant()).Set(n);
    }

    private void Forget(string jobId)
    {
        if (!running.TryRemove(jobId, out var model)) return;
        trainNll.RemoveLabelled(jobId, model);
        validationNll.RemoveLabelled(jobId, model);
        samplesPerSecond.RemoveLabelled(jobId, model);
    }
}
